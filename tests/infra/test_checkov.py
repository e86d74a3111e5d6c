"""checkov's Bicep scan of infra/: nothing fails, and every skip is the one documented."""

from __future__ import annotations

import re

from tests.infra.tooling import INFRA, CheckovRun

SKIP_ROW = re.compile(r"^\| (CKV2?_\w+) \| ([\w./-]+\.bicep) \| ([\w./]+) \| (.+?) \|$")

Report = CheckovRun
CONTAINERS = "Microsoft.Storage/storageAccounts/blobServices/containers"


def _documented() -> dict[tuple[str, str, str], str]:
    rows = {}
    for line in (INFRA / "checkov-skips.md").read_text().splitlines():
        match = SKIP_ROW.match(line)
        if match:
            check, file, resource, why = match.groups()
            rows[(check, file, resource)] = why
    return rows


def test_checkov_passes_with_no_failed_check_and_no_parse_error(checkov_report: Report) -> None:
    code, report, stderr = checkov_report
    failed = [
        f"{c['check_id']} {c['file_path']} {c['resource']}: {c['check_name']}"
        for c in report["results"].get("failed_checks", [])
    ]
    assert failed == []
    assert report["summary"]["parsing_errors"] == 0, report["results"].get("parsing_errors")
    assert code == 0, stderr[-2000:]
    assert "Traceback" not in stderr, stderr[-2000:]  # a crashed check is a silent pass
    assert report["summary"]["passed"] >= 30  # the scan really looked at the templates


def test_every_skip_is_documented_with_its_reason(checkov_report: Report) -> None:
    _, report, _ = checkov_report
    skipped = {
        (c["check_id"], c["file_path"].lstrip("/"), c["resource"]): c["check_result"].get(
            "suppress_comment", ""
        )
        for c in report["results"].get("skipped_checks", [])
    }
    documented = _documented()
    assert sorted(set(skipped) - set(documented)) == [], "skipped but not in checkov-skips.md"
    assert sorted(set(documented) - set(skipped)) == [], "in checkov-skips.md but not skipped"
    for key, reason in skipped.items():
        assert len(reason.strip()) > 20, f"{key}: the skip comment gives no reason"
    for key, why in documented.items():
        assert len(why.strip()) > 20, f"{key}: checkov-skips.md gives no reason"


def test_checks_that_matter_here_ran_and_passed(checkov_report: Report) -> None:
    _, report, _ = checkov_report
    passed = {(c["check_id"], c["resource"]) for c in report["results"].get("passed_checks", [])}
    for check, resource in [
        ("CKV_AZURE_3", "Microsoft.Storage/storageAccounts.storage"),  # HTTPS only
        ("CKV_AZURE_44", "Microsoft.Storage/storageAccounts.storage"),  # TLS 1.2
        ("CKV_AZURE_34", f"{CONTAINERS}.reportsContainer"),  # private
        ("CKV_AZURE_34", f"{CONTAINERS}.cacheContainer"),
        ("CKV_AZURE_70", "Microsoft.Web/sites.site"),  # HTTPS only
        ("CKV_AZURE_145", "Microsoft.Web/sites.site"),  # TLS 1.2
        ("CKV_AZURE_78", "Microsoft.Web/sites.site"),  # no FTP
        ("CKV_AZURE_71", "Microsoft.Web/sites.site"),  # managed identity
        ("CKV_AZURE_114", "Microsoft.KeyVault/vaults/secrets.secret"),
        ("CKV_AZURE_111", "Microsoft.KeyVault/vaults.vault"),  # soft delete
        ("CKV_AZURE_236", "Microsoft.CognitiveServices/accounts.account"),  # local auth off
    ]:
        assert (check, resource) in passed, f"{check} did not pass on {resource}"
