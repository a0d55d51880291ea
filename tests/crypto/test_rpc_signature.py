"""The provider RPC signature (Alibaba Cloud, HMAC-SHA1): a known-answer vector, and tamper."""

from __future__ import annotations

import pytest

from veil.crypto import SignatureInvalid, rpc_signature_v1, verify_rpc_signature_v1
from veil.numbers import string_to_sign

# Alibaba Cloud's documented example (ECS DescribeRegions, AccessKey secret "testsecret").
EXAMPLE = {
    "TimeStamp": "2016-02-23T12:46:24Z",
    "Format": "XML",
    "AccessKeyId": "testid",
    "Action": "DescribeRegions",
    "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
    "Version": "2014-05-26",
    "SignatureVersion": "1.0",
}
EXAMPLE_STRING_TO_SIGN = (
    "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML"
    "%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"
    "%26SignatureVersion%3D1.0%26TimeStamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26"
)
EXAMPLE_SIGNATURE = "CT9X0VtwR86fNWSnsc6v8YGOjuE="


def test_the_documented_example_signs_to_the_documented_signature() -> None:
    assert string_to_sign("GET", EXAMPLE) == EXAMPLE_STRING_TO_SIGN
    assert rpc_signature_v1("testsecret", EXAMPLE_STRING_TO_SIGN) == EXAMPLE_SIGNATURE
    verify_rpc_signature_v1("testsecret", EXAMPLE_STRING_TO_SIGN, EXAMPLE_SIGNATURE)


@pytest.mark.parametrize(
    ("secret", "message", "signature"),
    [
        ("testsecreT", EXAMPLE_STRING_TO_SIGN, EXAMPLE_SIGNATURE),
        ("testsecret", EXAMPLE_STRING_TO_SIGN.replace("testid", "testie"), EXAMPLE_SIGNATURE),
        ("testsecret", EXAMPLE_STRING_TO_SIGN, EXAMPLE_SIGNATURE[:-2] + "A="),
        ("testsecret", EXAMPLE_STRING_TO_SIGN, ""),
        ("testsecret", EXAMPLE_STRING_TO_SIGN, "签名"),
    ],
)
def test_any_change_fails_verification(secret: str, message: str, signature: str) -> None:
    with pytest.raises(SignatureInvalid):
        verify_rpc_signature_v1(secret, message, signature)
