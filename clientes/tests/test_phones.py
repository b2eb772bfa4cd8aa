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


@pytest.mark.parametrize(
    "wa_id",
    [
        "16505551234",  # a US WhatsApp id: 1 + area code 650
        "12125551234",  # 1 + 212: its first two digits are a Brazilian DDD (12), not a mobile
        "447911123456",  # the UK
        "4915123456789",  # Germany
    ],
)
def test_a_foreign_whatsapp_id_keeps_its_own_country_code(wa_id):
    assert normalize_phone(wa_id) == wa_id


def test_a_local_brazilian_landline_and_mobile_get_the_country_code():
    assert normalize_phone("1134567890") == "551134567890"
    assert normalize_phone("21987654321") == "5521987654321"


def test_a_foreign_customer_writing_on_whatsapp_is_stored_with_their_own_number(tenant):
    from clientes.services import cliente_upsert_from_whatsapp

    cliente = cliente_upsert_from_whatsapp(tenant=tenant, wa_id="16505551234", nome="Ann")
    again = cliente_upsert_from_whatsapp(tenant=tenant, wa_id="16505551234")

    assert cliente.telefone == "16505551234"
    assert again.pk == cliente.pk
