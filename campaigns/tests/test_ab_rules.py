"""The A/B rules on their own (campaigns.ab): a clearly better variant is declared the winner
whatever the random draws, because each variant is first shown the winner rule's minimum."""

import random

import pytest

from campaigns import ab


def _simulate(strategy: str, rates: dict[int, float], seed: int, customers: int = 600):
    rng = random.Random(seed)
    outcome = random.Random(seed + 1000)
    sent = dict.fromkeys(rates, 0)
    won = dict.fromkeys(rates, 0)
    for _ in range(customers):
        arms = [ab.Arm(key=k, sent=sent[k], successes=won[k]) for k in rates]
        winner, _confidence = ab.winner(arms)
        if winner is not None:
            return winner, sent
        key = ab.choose(arms, strategy=strategy, rng=rng)
        sent[key] += 1
        won[key] += outcome.random() < rates[key]
    return None, sent


@pytest.mark.parametrize("strategy", ["thompson", "epsilon"])
@pytest.mark.parametrize("seed", range(5))
def test_the_variant_replied_to_three_times_as_often_is_declared_the_winner(strategy, seed):
    winner, sent = _simulate(strategy, {1: 0.6, 2: 0.2}, seed)

    assert winner == 1, f"no winner after {sent} showings"
    assert min(sent.values()) >= ab.MIN_SAMPLES


def test_an_unlucky_start_does_not_starve_a_variant_before_the_minimum():
    arms = [ab.Arm(key=1, sent=10, successes=10), ab.Arm(key=2, sent=3, successes=0)]

    picks = {ab.choose(arms, strategy="thompson", rng=random.Random(s)) for s in range(50)}

    assert picks == {2}
