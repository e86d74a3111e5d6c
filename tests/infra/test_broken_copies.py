"""Each check fails on a deliberately broken copy of infra/: the tests can see what they guard.

A copy of infra/ is made per mutation in a temporary directory, one text edit is applied (it must
match exactly once, so a template change that outdates a mutation fails here, not silently), and
only the edited file is parsed again; the rule that guards the property must then report it.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.infra import rules
from tests.infra.rules import Infra
from tests.infra.tooling import INFRA, ROOT, Inspect, run_checkov


@dataclass(frozen=True)
class Mutation:
    file: str
    old: str
    new: str
    rule: Callable[[Infra], list[str]]
    expect: str  # a fragment of the violation the rule must report


def _key_material(infra: Infra) -> list[str]:
    return rules.key_material_violations(infra, [ROOT / "azure.yaml"])


QUEUE_ROLE = (
    "resource queueDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01'"
    " = [for p in principals: {\n"
    "  name: guid(storage.id, p.id, storageQueueDataContributor)\n"
    "  scope: storage\n"
    "  properties: {\n"
    "    principalId: p.id\n"
    "    principalType: p.type\n"
    "    roleDefinitionId: subscriptionResourceId("
    "'Microsoft.Authorization/roleDefinitions', storageQueueDataContributor)\n"
    "  }\n"
    "}]\n"
)
KV_REFERENCE = "'@Microsoft.KeyVault(SecretUri=${keyVault.outputs.vaultUri}secrets/%s)'"

MUTATIONS = {
    "shared-key-on": Mutation(
        "modules/storage.bicep",
        "allowSharedKeyAccess: false",
        "allowSharedKeyAccess: true",
        rules.storage_violations,
        "allowSharedKeyAccess is True",
    ),
    "public-access-on": Mutation(
        "modules/storage.bicep",
        "allowBlobPublicAccess: false",
        "allowBlobPublicAccess: true",
        rules.storage_violations,
        "allowBlobPublicAccess is True",
    ),
    "container-public": Mutation(
        "modules/storage.bicep",
        "name: 'reports'\n  properties: {\n    publicAccess: 'None'",
        "name: 'reports'\n  properties: {\n    publicAccess: 'Container'",
        rules.storage_violations,
        "container reports: publicAccess 'Container'",
    ),
    "tls-1-0": Mutation(
        "modules/storage.bicep",
        "minimumTlsVersion: 'TLS1_2'",
        "minimumTlsVersion: 'TLS1_0'",
        rules.storage_violations,
        "minimumTlsVersion is 'TLS1_0'",
    ),
    "role-removed": Mutation(
        "modules/rbac.bicep",
        QUEUE_ROLE,
        "",
        rules.role_violations,
        "Storage Queue Data Contributor (974c5e8b-45b9-4653-ba55-5f855dd0fb88) is not assigned",
    ),
    "role-scope-widened": Mutation(
        "modules/rbac.bicep",
        "  name: guid(vault.id, p.id, keyVaultSecretsUser)\n  scope: vault\n",
        "  name: guid(vault.id, p.id, keyVaultSecretsUser)\n",
        rules.role_violations,
        "Key Vault Secrets User is scoped to None",
    ),
    "role-broader": Mutation(
        "modules/rbac.bicep",
        "var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'",
        "var monitoringMetricsPublisher = 'b24988ac-6180-42a0-ab88-20f7382dd24c'",  # Contributor
        rules.role_violations,
        "is not one the app needs",
    ),
    "role-comment-gone": Mutation(
        "modules/rbac.bicep",
        "// Storage Table Data Contributor: Durable's History and Instances tables",
        "// Durable's History and Instances tables",
        rules.role_violations,
        "no comment naming Storage Table Data Contributor",
    ),
    "literal-secret": Mutation(
        "main.bicep",
        "OPENAI_API_KEY: " + KV_REFERENCE % "openai-api-key",
        "OPENAI_API_KEY: 'sk-proj-0123456789abcdef'",
        rules.key_vault_violations,
        "OPENAI_API_KEY is 'sk-proj-0123456789abcdef'",
    ),
    "secret-param-in-setting": Mutation(
        "main.bicep",
        "FIRECRAWL_API_KEY: " + KV_REFERENCE % "firecrawl-api-key",
        "FIRECRAWL_API_KEY: firecrawlApiKey",
        rules.key_vault_violations,
        "carries the secret parameter firecrawlApiKey",
    ),
    "reference-unguarded": Mutation(
        "main.bicep",
        "var firecrawlKeySetting = empty(firecrawlApiKey) ? {} : {",
        "var firecrawlKeySetting = empty(openAiApiKey) ? {} : {",
        rules.key_vault_violations,
        "FIRECRAWL_API_KEY is not set exactly when the firecrawl-api-key secret is stored",
    ),
    "vault-access-policies": Mutation(
        "modules/keyvault.bicep",
        "enableRbacAuthorization: true",
        "enableRbacAuthorization: false",
        rules.key_vault_violations,
        "enableRbacAuthorization is False",
    ),
    "local-auth-on": Mutation(
        "modules/monitoring.bicep",
        "DisableLocalAuth: true",
        "DisableLocalAuth: false",
        rules.app_insights_violations,
        "DisableLocalAuth is False",
    ),
    "storage-connection-string": Mutation(
        "modules/function-app.bicep",
        "  AzureWebJobsStorage__accountName: storageAccountName\n",
        "  AzureWebJobsStorage: 'DefaultEndpointsProtocol=https;AccountName=${storageAccountName};"
        "AccountKey=${storage.listKeys().keys[0].value}'\n",
        _key_material,
        "AccountKey",
    ),
    "storage-by-key-not-identity": Mutation(
        "modules/function-app.bicep",
        "AzureWebJobsStorage__credential: 'managedidentity'",
        "AzureWebJobsStorage__credential: 'connectionstring'",
        rules.identity_storage_violations,
        "AzureWebJobsStorage__credential",
    ),
    "easyauth-always-on": Mutation(
        "modules/function-app.bicep",
        "    platform: {\n      enabled: easyAuth",
        "    platform: {\n      enabled: true",
        rules.easy_auth_violations,
        "platform.enabled does not follow authMode",
    ),
    "easyauth-anonymous-allowed": Mutation(
        "modules/function-app.bicep",
        "unauthenticatedClientAction: 'Return401'",
        "unauthenticatedClientAction: 'AllowAnonymous'",
        rules.easy_auth_violations,
        "unauthenticatedClientAction is 'AllowAnonymous'",
    ),
    "syntax-error": Mutation(
        "modules/identity.bicep",
        "  tags: tags\n}\n",
        "  tags: tags\n\n",
        rules.syntax_violations,
        "modules/identity.bicep",
    ),
    "nested-child": Mutation(
        "modules/storage.bicep",
        "resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {\n"
        "  parent: storage\n  name: 'default'\n}\n",
        "resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {\n"
        "  parent: storage\n  name: 'default'\n"
        "  resource extra 'tables' = {\n    name: 'x'\n  }\n}\n",
        rules.syntax_violations,
        "nested resource",
    ),
    "module-param-typo": Mutation(
        "main.bicep",
        "    authClientId: authClientId\n",
        "    authClientID: authClientId\n",
        rules.module_wiring_violations,
        "passes authClientID",
    ),
}


@pytest.fixture(scope="module")
def broken(
    inspect: Inspect, infra: Infra, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Infra]:
    """Every mutant, parsed in one call to the tool venv."""
    roots: dict[str, Path] = {}
    for name, mutation in MUTATIONS.items():
        root = tmp_path_factory.mktemp(name) / "infra"
        shutil.copytree(INFRA, root)
        path = root / mutation.file
        text = path.read_text()
        assert text.count(mutation.old) == 1, f"{name}: the edit does not match exactly once"
        path.write_text(text.replace(mutation.old, mutation.new))
        roots[name] = root
    targets = {name: f"{root}::{MUTATIONS[name].file}" for name, root in roots.items()}
    parsed = inspect("bicep", *targets.values())
    return {
        name: Infra(roots[name], {**infra.files, **parsed[targets[name]]}) for name in MUTATIONS
    }


@pytest.mark.parametrize("name", list(MUTATIONS))
def test_the_rule_fires_on_the_broken_copy(
    name: str, broken: dict[str, Infra], infra: Infra
) -> None:
    mutation = MUTATIONS[name]
    assert mutation.rule(infra) == [], "the rule must hold on infra/ itself"
    violations = mutation.rule(broken[name])
    assert any(mutation.expect in v for v in violations), violations


def test_checkov_fails_on_a_public_container(tool_venv: Path, broken: dict[str, Infra]) -> None:
    code, report, _ = run_checkov(tool_venv, broken["container-public"].root)
    failed = {(c["check_id"], c["resource"]) for c in report["results"].get("failed_checks", [])}
    assert code == 1
    assert (
        "CKV_AZURE_34",
        "Microsoft.Storage/storageAccounts/blobServices/containers.reportsContainer",
    ) in failed
