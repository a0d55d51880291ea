"""The shipped policies validate; broken policy files are refused with the problem named."""

from __future__ import annotations

import shutil
from pathlib import Path

import cedarpy
import pytest

from veil.errors import ConfigurationError
from veil.policy import DEFAULT_POLICY_DIR, PolicySource


def test_the_shipped_policies_validate_against_the_shipped_schema() -> None:
    schema = cedarpy.Schema.from_str((DEFAULT_POLICY_DIR / "schema.cedarschema").read_text())
    for path in sorted(DEFAULT_POLICY_DIR.glob("*.cedar")):
        result = cedarpy.validate_policies(path.read_text(encoding="utf-8"), schema)
        assert result.validation_passed, (path.name, [str(e) for e in result.errors])


def test_the_shipped_policies_load_with_ids_grants_and_reasons() -> None:
    source = PolicySource.load(DEFAULT_POLICY_DIR)
    ids = set(source.id_by_policy.values())
    assert {"view.rider.to-building", "view.rider.to-door", "deny.rider.window-closed"} <= ids
    # Every permit on view_order grants something; every forbid says why.
    assert source.grants_by_policy["view.rider.to-door"] >= {"address.full", "phone.virtual"}
    # Riders reach the customer through a virtual number: no rider policy grants
    # any form of the real phone (veil.numbers).
    rider_views = ("view.rider.to-building", "view.rider.to-door", "view.rider.grace")
    for policy_id in rider_views:
        assert {g for g in source.grants_by_policy[policy_id] if g.startswith("phone")} == {
            "phone.virtual"
        }
    assert "address.full" not in source.grants_by_policy["view.rider.to-building"]
    assert source.reason_by_policy["deny.rider.window-closed"] == "delivery window closed"
    assert all(reason for reason in source.reason_by_policy.values())
    # Nothing grants a merchant or the service a phone.
    for policy_id in ("view.merchant.own", "view.service.tokens"):
        assert not {g for g in source.grants_by_policy[policy_id] if g.startswith("phone")}


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    copy = tmp_path / "policies"
    shutil.copytree(DEFAULT_POLICY_DIR, copy)
    return copy


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('@id("x")\npermit (principal, action, resource', "do not parse"),
        (
            '@id("x")\npermit (principal, action, resource) when { resource.colour == "red" };',
            "colour",
        ),
        (
            '@id("x")\npermit (principal is Veil::Rider, action == Veil::Action::"fly", resource);',
            "fly",
        ),
        (
            '@id("x")\npermit (principal is Veil::Pilot, action, resource);',
            "Pilot",
        ),
        ("permit (principal, action, resource);", "no @id annotation"),
        (
            '@id("know.service")\npermit (principal, action, resource);',
            "'know.service' is used twice",
        ),
    ],
)
def test_a_broken_policy_file_is_refused_naming_the_problem(
    policy_dir: Path, text: str, problem: str
) -> None:
    (policy_dir / "zz_broken.cedar").write_text(text + "\n", encoding="utf-8")
    with pytest.raises(ConfigurationError) as error:
        PolicySource.load(policy_dir)
    assert problem in error.value.message
    assert str(policy_dir) in error.value.message


@pytest.mark.parametrize(
    "text",
    [
        '@id("x")\npermit (principal, action, resource',
        '@id("y")\npermit (principal is Veil::Pilot, action, resource);',
    ],
)
def test_the_error_names_the_file_at_fault(policy_dir: Path, text: str) -> None:
    (policy_dir / "zz_broken.cedar").write_text(text + "\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"zz_broken\.cedar"):
        PolicySource.load(policy_dir)


def test_a_broken_schema_is_refused(policy_dir: Path) -> None:
    (policy_dir / "schema.cedarschema").write_text("namespace Veil { entity ", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="do not parse"):
        PolicySource.load(policy_dir)


def test_a_policy_directory_without_schema_or_policies_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"needs schema\.cedarschema and \.cedar files"):
        PolicySource.load(tmp_path)
    (tmp_path / "schema.cedarschema").write_text(
        (DEFAULT_POLICY_DIR / "schema.cedarschema").read_text(encoding="utf-8"), encoding="utf-8"
    )
    with pytest.raises(ConfigurationError, match=r"needs schema\.cedarschema and \.cedar files"):
        PolicySource.load(tmp_path)
