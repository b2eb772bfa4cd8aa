"""How typed answers are matched to offered options (chatbots.text)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from chatbots.text import edit_distance, match_candidates, match_option, normalize

MENU = [
    {"id": "cat.pizzas", "title": "Pizzas"},
    {"id": "cat.bebidas", "title": "Bebidas"},
    {"id": "cat.sobremesas", "title": "Sobremesas e Açaí"},
]


def test_normalize_drops_accents_case_and_extra_spaces():
    assert normalize("  Pão   de AÇÚCAR\n") == "pao de acucar"
    assert normalize("Opção") == "opcao"
    assert normalize("") == ""


@pytest.mark.parametrize(
    "typed, expected",
    [
        ("1", "Pizzas"),
        ("2.", "Bebidas"),
        ("3)", "Sobremesas e Açaí"),
        ("opção 2", "Bebidas"),
        ("Opcao 2", "Bebidas"),
        ("nº 1", "Pizzas"),
        ("2️⃣", "Bebidas"),
        ("Pizzas", "Pizzas"),
        ("pizza", "Pizzas"),
        ("PIZZAS!", "Pizzas"),
        ("bebida", "Bebidas"),
        ("sobremesas e acai", "Sobremesas e Açaí"),
        ("açaí", "Sobremesas e Açaí"),
        ("sobre", "Sobremesas e Açaí"),
        ("quero pizzas", "Pizzas"),
    ],
)
def test_it_matches_numbers_and_names_ignoring_accents_and_case(typed, expected):
    assert match_option(typed, MENU)["title"] == expected


def test_a_tapped_reply_id_wins_over_the_text():
    assert match_option("Pizzas", MENU, reply_id="cat.bebidas")["title"] == "Bebidas"


def test_an_unknown_reply_id_falls_back_to_the_tapped_title():
    assert match_option("Bebidas", MENU, reply_id="old-menu.7")["title"] == "Bebidas"


def test_a_provider_delivering_the_id_as_text_still_matches():
    assert match_option("cat.pizzas", MENU)["title"] == "Pizzas"


@pytest.mark.parametrize("typed", ["", "   ", "4", "0", "hambúrguer", "xy", "as"])
def test_it_matches_nothing_when_nothing_fits(typed):
    assert match_option(typed, MENU) is None


def test_an_ambiguous_answer_matches_nothing():
    options = [{"title": "Pizza Calabresa"}, {"title": "Pizza Mussarela"}]
    assert match_option("pizza", options) is None
    assert match_option("calab", options)["title"] == "Pizza Calabresa"
    assert match_option("mussa", options)["title"] == "Pizza Mussarela"


def test_an_exact_title_wins_over_its_plural():
    options = [{"title": "Pizza"}, {"title": "Pizzas doces"}, {"title": "Pizzas"}]
    assert match_option("pizza", options)["title"] == "Pizza"
    assert match_option("pizzas", options)["title"] == "Pizzas"


def test_it_matches_model_like_objects_and_plain_strings():
    @dataclass
    class Produto:
        id: int
        nome: str

    produtos = [Produto(7, "Coxinha"), Produto(9, "Pão de Queijo")]
    assert match_option("pao de queijo", produtos).id == 9
    assert match_option("2", produtos).nome == "Pão de Queijo"
    assert (
        match_option("", produtos, reply_id="produto:7", id_of=lambda p: f"produto:{p.id}").id == 7
    )
    assert match_option("sim", ["Sim", "Não"]) == "Sim"
    assert match_option("nao", ["Sim", "Não"]) == "Não"


def test_short_answers_only_match_the_start_of_a_title():
    options = ["Sim", "Não"]
    assert match_option("s", options) == "Sim"
    assert match_option("im", options) is None


# --- Catalog search: synonyms, typos and ambiguity (the order flow's `fuzzy`) -------------

CATALOG = [
    {"title": "Coca-Cola 2L", "names": ["refri", "coquinha"]},
    {"title": "Guaraná Antarctica 2L", "names": ["refri"]},
    {"title": "Pizza Calabresa", "names": []},
    {"title": "Pizza Margherita", "names": []},
    {"title": "Água mineral", "names": []},
]


def _search(typed: str) -> list[str]:
    found = match_candidates(typed, CATALOG, names_of=lambda o: o["names"], fuzzy=True)
    return [o["title"] for o in found]


@pytest.mark.parametrize(
    "typed, expected",
    [
        ("coca", ["Coca-Cola 2L"]),
        ("cocacola", ["Coca-Cola 2L"]),
        ("quero uma coca por favor", ["Coca-Cola 2L"]),
        ("2 cocas", ["Coca-Cola 2L"]),
        ("coquinha", ["Coca-Cola 2L"]),  # a synonym
        ("refri", ["Coca-Cola 2L", "Guaraná Antarctica 2L"]),  # ambiguous: both offered
        ("calabreza", ["Pizza Calabresa"]),  # a wrong letter
        ("pizza margerita", ["Pizza Margherita"]),  # a missing one
        ("calbaresa", ["Pizza Calabresa"]),  # two swapped
        ("agua", ["Água mineral"]),
        ("pizza", ["Pizza Calabresa", "Pizza Margherita"]),
        ("xyz", []),
        ("sal", []),  # short words forgive no typo
        ("quero", []),  # nothing but filler
    ],
)
def test_a_catalog_search_forgives_typos_and_knows_synonyms(typed, expected):
    assert _search(typed) == expected


def test_without_fuzzy_matching_is_as_before():
    assert match_option("calabreza", [o["title"] for o in CATALOG]) is None
    assert match_option("calabreza", [o["title"] for o in CATALOG], fuzzy=True) == "Pizza Calabresa"


def test_the_edit_distance_counts_a_swap_as_one():
    assert edit_distance("calabresa", "calabreza", limit=2) == 1
    assert edit_distance("ab", "ba", limit=1) == 1
    assert edit_distance("pizza", "pasta", limit=1) == 2  # capped at limit + 1
