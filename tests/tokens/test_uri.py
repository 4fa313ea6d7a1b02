"""RFC 7512 URI parsing: round trip, RFC examples, and a table of refused URIs."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ceremony.errors import InputError
from ceremony.tokens.uri import OBJECT_TYPES, Pkcs11Uri

text = st.text(st.characters(exclude_categories=["Cs"]), max_size=20)
opt_text = st.none() | text

uris = st.builds(
    Pkcs11Uri,
    token=opt_text,
    manufacturer=opt_text,
    model=opt_text,
    serial=opt_text,
    library_manufacturer=opt_text,
    library_description=opt_text,
    library_version=st.none() | st.from_regex(r"[0-9]{1,3}(\.[0-9]{1,3})?", fullmatch=True),
    object=opt_text,
    id=st.none() | st.binary(max_size=16),
    type=st.none() | st.sampled_from(OBJECT_TYPES),
    module_name=st.none() | text.filter(lambda s: bool(s) and "/" not in s),
    module_path=st.none() | text.map(lambda s: "/" + s),
)


@given(uris)
def test_round_trip(uri: Pkcs11Uri) -> None:
    printed = uri.to_string()
    assert Pkcs11Uri.parse(printed) == uri
    assert Pkcs11Uri.parse(printed).to_string() == printed
    assert printed.isascii()


@given(uris)
def test_other_spellings_parse_to_the_same(uri: Pkcs11Uri) -> None:
    # scheme case, lower-case hex, and characters RFC 7512 allows unencoded (":" "@" ...)
    printed = uri.to_string()
    alt = "PKCS11:" + re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), printed[7:])
    assert Pkcs11Uri.parse(alt) == uri
    literal = printed.replace("%3A", ":").replace("%40", "@").replace("%2C", ",")
    assert Pkcs11Uri.parse(literal) == uri


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("pkcs11:", Pkcs11Uri()),
        ("pkcs11:object=my-pubkey;type=public", Pkcs11Uri(object="my-pubkey", type="public")),
        (
            "pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;manufacturer=Snake%20Oil,%20Inc.;"
            "model=1.0;object=my-certificate;type=cert;id=%69%95%3E%5C%F4%BD%EC%91",
            Pkcs11Uri(
                token="The Software PKCS#11 Softtoken",
                manufacturer="Snake Oil, Inc.",
                model="1.0",
                object="my-certificate",
                type="cert",
                id=bytes.fromhex("69953e5cf4bdec91"),
            ),
        ),
        (
            "pkcs11:library-manufacturer=Snake%20Oil,%20Inc.;library-description=Soft%20Token%20Library;"
            "library-version=1.23",
            Pkcs11Uri(
                library_manufacturer="Snake Oil, Inc.",
                library_description="Soft Token Library",
                library_version="1.23",
            ),
        ),
        (
            "pkcs11:object=my-sign-key;type=private?module-name=mypkcs11",
            Pkcs11Uri(object="my-sign-key", type="private", module_name="mypkcs11"),
        ),
        (
            "pkcs11:object=my-sign-key;type=private?module-path=/mnt/libmypkcs11.so.1",
            Pkcs11Uri(object="my-sign-key", type="private", module_path="/mnt/libmypkcs11.so.1"),
        ),
        (
            "pkcs11:token=Name%20with%20a%20small%20A%20with%20acute:%20%C3%A1",
            Pkcs11Uri(token="Name with a small A with acute: á"),
        ),
        ("pkcs11:token=a&b;serial=0a1b", Pkcs11Uri(token="a&b", serial="0a1b")),
        ("pkcs11:id=%0a%FF", Pkcs11Uri(id=b"\x0a\xff")),
        ("pkcs11:token=", Pkcs11Uri(token="")),
    ],
)
def test_parse_examples(text: str, expected: Pkcs11Uri) -> None:
    assert Pkcs11Uri.parse(text) == expected


def test_canonical_form() -> None:
    uri = Pkcs11Uri.parse(
        "pkcs11:type=private;id=%0a%0B;object=root alice".replace(" ", "%20")
        + ";serial=12ab;token=YubiKey%20PIV%20%2312345678?module-path=/usr/lib/x.so"
    )
    assert uri.to_string() == (
        "pkcs11:token=YubiKey%20PIV%20%2312345678;serial=12ab;object=root%20alice;id=%0A%0B;"
        "type=private?module-path=/usr/lib/x.so"
    )
    assert str(uri) == uri.to_string()


BAD = [
    ("token=a", "it must start with 'pkcs11:'"),
    ("pkcs:token=a", "it must start with 'pkcs11:'"),
    (
        "pkcs11:token=a;pin-value=123456",
        "'pin-value' is refused: a PIN never goes in a URI; the tool asks for the PIN when it is needed",
    ),
    (
        "pkcs11:token=a?pin-value=123456",
        "'pin-value' is refused: a PIN never goes in a URI; the tool asks for the PIN when it is needed",
    ),
    (
        "pkcs11:token=a?pin-source=file:/etc/pin",
        "'pin-source' is refused: a PIN never goes in a URI; the tool asks for the PIN when it is needed",
    ),
    (
        "pkcs11:slot-id=3",
        "'slot-id' is refused: slot numbers change between runs, so select the token by serial= or "
        "token= (its label)",
    ),
    ("pkcs11:token", "attribute 'token' has no '=value'"),
    ("pkcs11:token=a;token=b", "attribute 'token' appears more than once"),
    ("pkcs11:token=a;;id=%01", "empty attribute (two ';' in a row, or a trailing ';')"),
    ("pkcs11:token=a;", "empty attribute (two ';' in a row, or a trailing ';')"),
    ("pkcs11:?module-name=a&", "empty attribute (two '&' in a row, or a trailing '&')"),
    ("pkcs11:token=my token", "character ' ' in 'token' must be percent-encoded as %20"),
    ("pkcs11:token=a#b", "character '#' in 'token' must be percent-encoded as %23"),
    ("pkcs11:object=é", "character 'é' in 'object' must be percent-encoded as %C3%A9"),
    ("pkcs11:id=%G1", "bad percent-encoding '%G1' in 'id' (expected % followed by two hex digits)"),
    ("pkcs11:id=%0", "bad percent-encoding '%0' in 'id' (expected % followed by two hex digits)"),
    ("pkcs11:type=secret", "type='secret' is not one of public, private, cert, secret-key, data"),
    ("pkcs11:module-path=/x.so", "'module-path' belongs in the query part, after '?'"),
    ("pkcs11:?token=a", "'token' belongs in the path part, before '?'"),
    (
        "pkcs11:colour=red",
        "unknown attribute 'colour' (known: token, manufacturer, model, serial, library-manufacturer, "
        "library-description, library-version, object, id, type, module-name, module-path)",
    ),
    ("pkcs11:x-foo=1", "vendor attribute 'x-foo' is not supported"),
    ("pkcs11:Token=a", "attribute names are lower case: write 'token', not 'Token'"),
    ("pkcs11:token=%FF", "'token' is not valid UTF-8 after percent-decoding"),
    ("pkcs11:?module-path=lib.so", "module-path='lib.so' must be an absolute path"),
    (
        "pkcs11:?module-name=a%2Fb",
        "module-name must be a bare module name such as 'softhsm2' (use module-path for a path)",
    ),
    ("pkcs11:library-version=two", "library-version='two' must look like 2 or 2.6"),
]


@pytest.mark.parametrize(("text", "message"), BAD)
def test_bad_uris(text: str, message: str) -> None:
    with pytest.raises(InputError) as info:
        Pkcs11Uri.parse(text)
    assert info.value.message == f"Invalid PKCS#11 URI: {message}."
    assert info.value.exit_code == 2
    assert "123456" not in str(info.value)


def test_selectors() -> None:
    uri = Pkcs11Uri.parse("pkcs11:serial=12;object=k;id=%01")
    assert uri.selects_token and uri.selects_key
    assert uri.describe_token() == "serial 12"
    assert uri.describe_key() == "label 'k', id 01"
    assert not Pkcs11Uri.parse("pkcs11:").selects_token
