import pytest

from clientes.phones import InvalidPhone, mask_phone, normalize_phone, phone_variants


@pytest.mark.parametrize(
    "raw",
    [
        "+55 (11) 98765-4321",
        "5511987654321",
        "551187654321",  # WhatsApp id of an old account: no ninth digit
        "11 98765-4321",
        "(11) 8765-4321",
        "5511987654321@s.whatsapp.net",
    ],
)
def test_it_reads_every_spelling_of_one_brazilian_mobile_as_the_same_number(raw):
    assert normalize_phone(raw) == "5511987654321"


def test_it_keeps_landlines_without_a_ninth_digit():
    assert normalize_phone("+55 11 3456-7890") == "551134567890"


def test_it_keeps_foreign_numbers_as_given():
    assert normalize_phone("+1 650-555-1234") == "16505551234"


@pytest.mark.parametrize("raw", ["", "abc", "123", "+1234567890123456"])
def test_it_refuses_what_is_not_a_phone_number(raw):
    with pytest.raises(InvalidPhone):
        normalize_phone(raw)


def test_variants_include_the_spelling_without_the_ninth_digit():
    assert phone_variants("5511987654321") == ["5511987654321", "551187654321"]


def test_mask_keeps_only_the_last_four_digits():
    assert mask_phone("5511987654321") == "*********4321"
