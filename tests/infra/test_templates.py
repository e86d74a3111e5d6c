"""infra/*.bicep: syntax, and the properties the deployment must keep (rules.py)."""

from __future__ import annotations

import json
import typing
from pathlib import Path

from shared.settings import Settings
from tests.infra import rules
from tests.infra.rules import Infra
from tests.infra.tooling import INFRA, ROOT

EXPECTED_FILES = {
    "main.bicep",
    "modules/function-app.bicep",
    "modules/identity.bicep",
    "modules/keyvault.bicep",
    "modules/monitoring.bicep",
    "modules/openai.bicep",
    "modules/rbac.bicep",
    "modules/storage.bicep",
}


def test_every_template_is_inspected(infra: Infra) -> None:
    assert set(infra.files) == EXPECTED_FILES


def test_syntax_tree_sitter_and_pycep(infra: Infra) -> None:
    assert rules.syntax_violations(infra) == []


def test_storage_refuses_keys_and_anonymous_access(infra: Infra) -> None:
    assert rules.storage_violations(infra) == []


def test_no_account_key_or_keyed_connection_string_anywhere(infra: Infra) -> None:
    extra = [ROOT / "azure.yaml", INFRA / "main.parameters.json"]
    assert rules.key_material_violations(infra, extra) == []


def test_host_storage_by_identity_on_flex_consumption(infra: Infra) -> None:
    assert rules.identity_storage_violations(infra) == []


def test_each_role_by_guid_scoped_to_its_resource_and_nothing_broader(infra: Infra) -> None:
    assert rules.role_violations(infra) == []


def test_secrets_are_key_vault_references_in_an_rbac_vault(infra: Infra) -> None:
    assert rules.key_vault_violations(infra) == []


def test_application_insights_takes_entra_id_ingestion_only(infra: Infra) -> None:
    assert rules.app_insights_violations(infra) == []


def test_easy_auth_follows_auth_mode(infra: Infra) -> None:
    assert rules.easy_auth_violations(infra) == []


def test_modules_are_wired_with_declared_parameters(infra: Infra) -> None:
    assert rules.module_wiring_violations(infra) == []


# ---- the app's own settings against shared/settings.py ------------------------------------

# Settings that are not fields of shared.settings.Settings, and why they are set.
NOT_APP_FIELDS = {
    "AzureWebJobsStorage__accountName": "Functions host + Durable storage by identity",
    "AzureWebJobsStorage__credential": "Functions host + Durable storage by identity",
    "AzureWebJobsStorage__clientId": "Functions host + Durable storage by identity",
    "AzureFunctionsJobHost__extensions__durableTask__hubName": "host.json override",
    "AZURE_CLIENT_ID": "DefaultAzureCredential picks the user-assigned identity",
    "APPLICATIONINSIGHTS_CONNECTION_STRING": "Functions telemetry",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING": "Entra ID ingestion",
    "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY": "Python worker OpenTelemetry",
    "RETENTION_CRON": "timer schedule, read by the trigger as %RETENTION_CRON%",
    "PYTHON_THREADPOOL_THREAD_COUNT": "the Python worker's sync thread pool (host.json's sum)",
}
REQUIRED = {
    "MARKET_DATA_PROVIDER",
    "NEWS_PROVIDER",
    "LLM_PROVIDER",
    "JOB_DEADLINE_SECONDS",
    "ANALYSES_PER_HOUR",
    "BATCH_MAX_TICKERS",
    "BATCH_CONCURRENCY",
    "LLM_TOKEN_BUDGET",
    "AUTH_MODE",
    "RETENTION_DAYS",
    "RETENTION_CRON",
    "AzureFunctionsJobHost__extensions__durableTask__hubName",
}
# main.bicep parameter -> the setting it feeds.
PARAMETERS = {
    "marketDataProvider": "MARKET_DATA_PROVIDER",
    "newsProvider": "NEWS_PROVIDER",
    "llmProvider": "LLM_PROVIDER",
    "authMode": "AUTH_MODE",
    "jobDeadlineSeconds": "JOB_DEADLINE_SECONDS",
    "analysesPerHour": "ANALYSES_PER_HOUR",
    "batchMaxTickers": "BATCH_MAX_TICKERS",
    "batchConcurrency": "BATCH_CONCURRENCY",
    "llmTokenBudget": "LLM_TOKEN_BUDGET",
    "retentionDays": "RETENTION_DAYS",
    "activityMaxAttempts": "ACTIVITY_MAX_ATTEMPTS",
    "activityRetryFirstMs": "ACTIVITY_RETRY_FIRST_MS",
}


def _fields_by_alias() -> dict[str, str]:
    aliases: dict[str, str] = {}
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        choices = getattr(alias, "choices", None)
        for choice in choices if choices is not None else [alias]:
            if isinstance(choice, str):
                aliases[choice] = name
    return aliases


def test_every_app_setting_is_one_the_app_reads(infra: Infra) -> None:
    aliases = _fields_by_alias()
    settings = rules.app_settings(infra)
    unknown = sorted(set(settings) - set(aliases) - set(NOT_APP_FIELDS))
    assert unknown == [], "set in infra but read by nothing (typo?)"
    assert sorted(REQUIRED - set(settings)) == []


def test_parameters_match_the_settings_they_feed(infra: Infra) -> None:
    main = infra.template("main.bicep")["parameters"]
    aliases = _fields_by_alias()
    for parameter, setting in PARAMETERS.items():
        field = Settings.model_fields[aliases[setting]]
        declared = main[parameter]
        assert declared["default"] == field.default, parameter
        allowed = [d["argument"] for d in declared["decorators"] if d["type"] == "allowed"]
        if typing.get_origin(field.annotation) is typing.Literal:
            assert allowed, f"{parameter}: no @allowed for a Literal setting"
            assert sorted(allowed[0]) == sorted(typing.get_args(field.annotation)), parameter
        # An int's bounds, as the setting checks them: a deployment the app refuses fails early.
        bounds = {d["type"]: d["argument"] for d in declared["decorators"]}
        limits = {
            "min_value": next((m.ge for m in field.metadata if hasattr(m, "ge")), None),
            "max_value": next((m.le for m in field.metadata if hasattr(m, "le")), None),
        }
        for kind, limit in limits.items():
            assert bounds.get(kind) == limit, f"{parameter}: @{kind} is not the setting's"


def test_task_hub_default_is_host_json(infra: Infra) -> None:
    host = json.loads((ROOT / "host.json").read_text())
    hub = infra.template("main.bicep")["parameters"]["taskHubName"]["default"]
    assert hub == host["extensions"]["durableTask"]["hubName"]
    settings = rules.app_settings(infra)
    assert settings["AzureFunctionsJobHost__extensions__durableTask__hubName"] == "taskHubName"


def test_api_and_ui_urls_are_outputs(infra: Infra) -> None:
    outputs = infra.template("main.bicep")["outputs"]
    assert outputs["STOCKMEMO_API_URL"]["value"] == "https://${api.outputs.defaultHostName}/api"
    assert outputs["STOCKMEMO_UI_URL"]["value"] == "https://${api.outputs.defaultHostName}/api/ui"
    app = infra.template("modules/function-app.bicep")["outputs"]["defaultHostName"]["value"]
    assert rules.reference(app) == "site.properties.defaultHostName"


def test_parameters_file_uses_azd_substitutions(infra: Infra) -> None:
    document = json.loads((INFRA / "main.parameters.json").read_text())
    values = {name: spec["value"] for name, spec in document["parameters"].items()}
    assert values["environmentName"] == "${AZURE_ENV_NAME}"
    assert values["location"] == "${AZURE_LOCATION}"
    assert values["principalId"] == "${AZURE_PRINCIPAL_ID}"
    declared = infra.template("main.bicep")["parameters"]
    assert sorted(set(values) - set(declared)) == [], "parameters main.bicep does not declare"
    required = {name for name, spec in declared.items() if spec["default"] is None}
    assert sorted(required - set(values)) == [], "required parameters azd would not fill"


def test_the_infra_tools_are_pinned() -> None:
    lines = (Path(__file__).parent / "requirements.txt").read_text().splitlines()
    requirements = [line.split("#")[0].strip() for line in lines]
    requirements = [r for r in requirements if r]
    assert requirements and all("==" in r for r in requirements)
