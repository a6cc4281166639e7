"""Signed download links against §10.5 to §10.7 of the contract."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from snyk_export.errors import ConfigurationError, Forbidden
from snyk_export.signing import (
    SigningKeys,
    download_path,
    sign_download,
    verify_download,
)

EXPORT_ID = "94f572f3-f17d-4d8d-ac55-44a8a034a6a9"
OTHER_EXPORT_ID = "94f572f3-f17d-4d8d-ac55-44a8a034a6aa"
FILE_NAME = "data_0_0_0.csv"
EXPIRES = 1_770_930_587
NOW = EXPIRES - 600
KEY = bytes(range(32))
OLD_KEY = bytes(range(32, 64))
UNRESERVED_LINK = re.compile(r"[A-Za-z0-9\-._~/?&=]+")


@pytest.fixture
def keys() -> SigningKeys:
    return SigningKeys(KEY)


def link_parts(path: str) -> tuple[str, str, str, str]:
    """Export id, file name, expiry and signature read back from a link."""
    split = urlsplit(path)
    _, prefix, export_id, file_name = split.path.split("/")
    assert prefix == "dl"
    query = parse_qs(split.query, strict_parsing=True)
    return export_id, file_name, query["expires"][0], query["sig"][0]


def verify(keys: SigningKeys, path: str, now: int = NOW) -> None:
    verify_download(keys, *link_parts(path), now=now)


def test_link_has_the_documented_shape(keys: SigningKeys) -> None:
    path = download_path(keys, EXPORT_ID, FILE_NAME, EXPIRES)

    assert re.fullmatch(
        rf"/dl/{EXPORT_ID}/{FILE_NAME}\?expires={EXPIRES}&sig=[0-9a-f]{{64}}", path
    )


@pytest.mark.parametrize("index", [0, 1, 7, 123])
def test_link_uses_only_unreserved_characters_and_delimiters(
    keys: SigningKeys, index: int
) -> None:
    path = download_path(keys, EXPORT_ID, f"data_{index}_0_0.csv", EXPIRES)

    assert UNRESERVED_LINK.fullmatch(path)
    assert "%" not in path
    assert "+" not in path
    assert unquote(path) == path


def test_signature_is_lowercase_hex_sha256(keys: SigningKeys) -> None:
    signature = sign_download(keys, EXPORT_ID, FILE_NAME, EXPIRES)

    assert re.fullmatch(r"[0-9a-f]{64}", signature)


def test_a_fresh_link_verifies(keys: SigningKeys) -> None:
    verify(keys, download_path(keys, EXPORT_ID, FILE_NAME, EXPIRES))


def test_a_link_verifies_until_its_expiry_second(keys: SigningKeys) -> None:
    verify(keys, download_path(keys, EXPORT_ID, FILE_NAME, EXPIRES), now=EXPIRES)


def test_an_expired_link_is_403_link_expired(keys: SigningKeys) -> None:
    path = download_path(keys, EXPORT_ID, FILE_NAME, EXPIRES)

    with pytest.raises(Forbidden) as caught:
        verify(keys, path, now=EXPIRES + 1)

    assert caught.value.detail == "link expired"
    assert (caught.value.status, caught.value.code) == (403, "SNYK-OPENAPI-0002")


def tampered(path: str, part: str) -> tuple[str, str, str, str]:
    export_id, file_name, expires, signature = link_parts(path)
    if part == "export_id":
        export_id = OTHER_EXPORT_ID
    elif part == "file_name":
        file_name = "data_1_0_0.csv"
    elif part == "expires_later":
        expires = str(int(expires) + 3600)
    elif part == "expires_earlier":
        expires = str(int(expires) - 1)
    elif part == "sig":
        flipped = "0" if signature[-1] != "0" else "1"
        signature = signature[:-1] + flipped
    return export_id, file_name, expires, signature


@pytest.mark.parametrize(
    "part", ["export_id", "file_name", "expires_later", "expires_earlier", "sig"]
)
def test_tampering_with_any_part_is_403_invalid(keys: SigningKeys, part: str) -> None:
    path = download_path(keys, EXPORT_ID, FILE_NAME, EXPIRES)

    with pytest.raises(Forbidden) as caught:
        verify_download(keys, *tampered(path, part), now=NOW)

    assert "invalid" in caught.value.detail
    assert caught.value.detail != "link expired"
    assert caught.value.status == 403


def test_a_link_signed_with_another_key_is_invalid(keys: SigningKeys) -> None:
    path = download_path(SigningKeys(OLD_KEY), EXPORT_ID, FILE_NAME, EXPIRES)

    with pytest.raises(Forbidden, match="invalid"):
        verify(keys, path)


@pytest.mark.parametrize(
    "expires",
    [
        None,
        "",
        "-1",
        "+1770930587",
        " 1770930587",
        "1770930587 ",
        "1770930587\n",
        "1.77e9",
        "0x6982",
        "01770930587",
        "²",
        "١٧٧٠٩٣٠٥٨٧",
        "1" * 13,
    ],
)
def test_a_malformed_expiry_is_403_invalid(
    keys: SigningKeys, expires: str | None
) -> None:
    signature = sign_download(keys, EXPORT_ID, FILE_NAME, EXPIRES)

    with pytest.raises(Forbidden) as caught:
        verify_download(keys, EXPORT_ID, FILE_NAME, expires, signature, now=NOW)

    assert caught.value.detail == "invalid download link"


@pytest.mark.parametrize(
    "mangle",
    [
        lambda s: None,
        lambda s: "",
        lambda s: s.upper(),
        lambda s: s[:-1],
        lambda s: s + "0",
        lambda s: s + "\n",
        lambda s: s[:-1] + "é",
        lambda s: s[:-1] + "g",
    ],
)
def test_a_malformed_signature_is_403_invalid(
    keys: SigningKeys, mangle: Callable[[str], str | None]
) -> None:
    signature = mangle(sign_download(keys, EXPORT_ID, FILE_NAME, EXPIRES))

    with pytest.raises(Forbidden) as caught:
        verify_download(keys, EXPORT_ID, FILE_NAME, str(EXPIRES), signature, now=NOW)

    assert caught.value.detail == "invalid download link"


def test_a_tampered_expired_link_is_still_403(keys: SigningKeys) -> None:
    path = download_path(keys, EXPORT_ID, FILE_NAME, EXPIRES)

    with pytest.raises(Forbidden):
        verify_download(keys, *tampered(path, "sig"), now=EXPIRES + 10)


def test_a_link_from_the_previous_key_still_verifies() -> None:
    before = SigningKeys(OLD_KEY)
    after = SigningKeys(KEY, previous=(OLD_KEY,))
    path = download_path(before, EXPORT_ID, FILE_NAME, EXPIRES)

    verify(after, path)
    assert download_path(after, EXPORT_ID, FILE_NAME, EXPIRES) != path
    verify(after, download_path(after, EXPORT_ID, FILE_NAME, EXPIRES))


def test_a_link_from_a_dropped_key_no_longer_verifies() -> None:
    path = download_path(SigningKeys(OLD_KEY), EXPORT_ID, FILE_NAME, EXPIRES)

    with pytest.raises(Forbidden, match="invalid"):
        verify(SigningKeys(KEY, previous=(bytes(32),)), path)


def test_keys_from_text_newest_first() -> None:
    keys = SigningKeys.from_text(f" {KEY.hex()} ,\n{OLD_KEY.hex()}\n\n")

    assert keys.current == KEY
    assert keys.previous == (OLD_KEY,)


@pytest.mark.parametrize(
    "text", ["", " \n, ", "zz" * 32, "00" * 15, f"{KEY.hex()},abc"]
)
def test_unusable_key_text_is_a_configuration_error(text: str) -> None:
    with pytest.raises(ConfigurationError):
        SigningKeys.from_text(text)


def test_repr_hides_the_keys() -> None:
    keys = SigningKeys(KEY, previous=(OLD_KEY,))

    for text in (repr(keys), str(keys), f"{keys}", f"{keys!r}"):
        assert KEY.hex() not in text
        assert OLD_KEY.hex() not in text
        assert repr(KEY) not in text
        assert "2 keys hidden" in text


@pytest.fixture
def open_umask() -> Iterator[None]:
    # With no umask the file mode is exactly what the code asks for.
    previous = os.umask(0)
    yield
    os.umask(previous)


@pytest.mark.usefixtures("open_umask")
def test_key_file_is_created_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "state" / "signing.key"

    first = SigningKeys.load_or_create(path)
    second = SigningKeys.load_or_create(path)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert first == second
    assert len(first.current) == 32
    assert first.previous == ()
    assert re.fullmatch(r"[0-9a-f]{64}\n", path.read_text())


def test_key_files_are_random(tmp_path: Path) -> None:
    one = SigningKeys.load_or_create(tmp_path / "one.key")
    two = SigningKeys.load_or_create(tmp_path / "two.key")

    assert one.current != two.current


def test_an_existing_key_file_is_read_not_replaced(tmp_path: Path) -> None:
    path = tmp_path / "signing.key"
    path.write_text(f"{KEY.hex()}\n{OLD_KEY.hex()}\n")

    keys = SigningKeys.load_or_create(path)

    assert keys.current == KEY
    assert keys.previous == (OLD_KEY,)
    assert path.read_text() == f"{KEY.hex()}\n{OLD_KEY.hex()}\n"
