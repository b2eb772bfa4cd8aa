"""A/B tests: which variant the next customer gets, and when one has won.

Thompson sampling (the default): each variant's success rate on the campaign's goal has a
Beta(1 + successes, 1 + failures) posterior; each customer gets the variant whose sampled
rate is highest, so traffic moves to the better one as evidence comes in (Russo et al., "A
Tutorial on Thompson Sampling", https://arxiv.org/abs/1707.02038). Epsilon-greedy: the best
observed rate, except a random variant with probability EPSILON. Either way each variant is
first shown MIN_SAMPLES times (the fewest-shown next), so that a winner can be declared.

A variant is declared the winner (Variant.winner; every later message uses it) when it has
at least MIN_SAMPLES sends per variant and a one-sided two-proportion z-test gives the
difference to the runner-up a confidence of at least WIN_CONFIDENCE.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

EPSILON = 0.1
MIN_SAMPLES = 15
WIN_CONFIDENCE = 0.95


@dataclass(frozen=True)
class Arm:
    key: int
    sent: int
    successes: int

    @property
    def rate(self) -> float:
        return self.successes / self.sent if self.sent else 0.0


def choose(arms: list[Arm], *, strategy: str, rng: random.Random) -> int:
    if len(arms) == 1:
        return arms[0].key
    # Every arm first gets the MIN_SAMPLES showings `winner` needs: Thompson sampling alone
    # can starve an early loser before that, and then no winner is ever declared.
    fewest = min(a.sent for a in arms)
    if fewest < MIN_SAMPLES:
        return rng.choice([a for a in arms if a.sent == fewest]).key
    if strategy == "epsilon":
        if rng.random() < EPSILON:
            return rng.choice(arms).key
        return max(arms, key=lambda a: (a.rate, -a.sent)).key
    samples = [(rng.betavariate(1 + a.successes, 1 + a.sent - a.successes), a.key) for a in arms]
    return max(samples)[1]


def confidence(best: Arm, other: Arm) -> float:
    """One-sided confidence that `best`'s rate is really above `other`'s (pooled z-test)."""
    if not best.sent or not other.sent:
        return 0.0
    pooled = (best.successes + other.successes) / (best.sent + other.sent)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / best.sent + 1 / other.sent))
    if spread == 0:
        return 0.0
    z = (best.rate - other.rate) / spread
    return 0.5 * (1 + math.erf(z / math.sqrt(2)))


def winner(arms: list[Arm]) -> tuple[int | None, float]:
    """(the winning arm's key or None, the confidence of its lead over the runner-up)."""
    if len(arms) < 2:
        return None, 0.0
    ranked = sorted(arms, key=lambda a: a.rate, reverse=True)
    conf = confidence(ranked[0], ranked[1])
    if min(a.sent for a in arms) >= MIN_SAMPLES and conf >= WIN_CONFIDENCE:
        return ranked[0].key, conf
    return None, conf
