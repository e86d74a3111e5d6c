"""The properties the infrastructure must keep, as functions over the parsed templates.

Each rule returns a list of violations (empty: the rule holds), so the same rule is asserted to
hold on infra/ and asserted to fire on a deliberately broken copy of it.

Templates come from pycep-parser (via inspect_infra.py): a resource is
`{"type", "existing", "config": {...}}`, where `config` wraps the body in
`{"loop_type", "condition", "config"}` for a `[for ...]` resource and in `{"condition", "config"}`
for an `if (...)` one; identifiers and string literals both appear as plain strings, and
interpolations keep their `${...}` text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Built-in role definition GUIDs -> (role name, the resource type the assignment must be scoped
# to). The only roles anybody is granted; anything else is broader than the app needs.
ROLES: dict[str, tuple[str, str]] = {
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": (
        "Storage Blob Data Owner",
        "Microsoft.Storage/storageAccounts",
    ),
    "974c5e8b-45b9-4653-ba55-5f855dd0fb88": (
        "Storage Queue Data Contributor",
        "Microsoft.Storage/storageAccounts",
    ),
    "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3": (
        "Storage Table Data Contributor",
        "Microsoft.Storage/storageAccounts",
    ),
    "4633458b-17de-408a-b874-0445c86b69e6": ("Key Vault Secrets User", "Microsoft.KeyVault/vaults"),
    "3913510d-42f4-4e42-8a64-420c390055eb": (
        "Monitoring Metrics Publisher",
        "Microsoft.Insights/components",
    ),
    "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd": (
        "Cognitive Services OpenAI User",
        "Microsoft.CognitiveServices/accounts",
    ),
}

# App setting -> (secure parameter of main.bicep, Key Vault secret name).
SECRET_SETTINGS: dict[str, tuple[str, str]] = {
    "OPENAI_API_KEY": ("openAiApiKey", "openai-api-key"),
    "AZURE_OPENAI_API_KEY": ("azureOpenAiApiKey", "azure-openai-api-key"),
    "FIRECRAWL_API_KEY": ("firecrawlApiKey", "firecrawl-api-key"),
    "STATS_ADMIN_KEY": ("statsAdminKey", "stats-admin-key"),
}

KEY_VAULT_REFERENCE = re.compile(
    r"^@Microsoft\.KeyVault\(SecretUri=\$\{keyVault\.outputs\.vaultUri\}secrets/"
    r"(?P<name>[a-z0-9-]+)\)$"
)

# Text that only a key-based credential would put in a template.
KEY_MATERIAL = re.compile(
    r"AccountKey\s*=|listKeys\s*\(|listConnectionStrings\s*\(|listAccountSas\s*\("
    r"|listServiceSas\s*\(|DefaultEndpointsProtocol\s*=|SharedAccessKey\s*=",
    re.IGNORECASE,
)

MAIN = "main.bicep"
FUNCTION_APP = "modules/function-app.bicep"
RBAC = "modules/rbac.bicep"
KEY_VAULT = "modules/keyvault.bicep"


@dataclass(frozen=True)
class Resource:
    file: str
    symbol: str
    type: str
    existing: bool
    body: dict[str, Any]
    loop: dict[str, Any] | None
    condition: Any


@dataclass
class Infra:
    """infra/ (or a copy of it): raw texts, tree-sitter findings and pycep templates."""

    root: Path
    files: dict[str, dict[str, Any]]  # relative path -> inspect_infra.py entry

    def template(self, file: str) -> dict[str, Any]:
        template = self.files[file]["template"]
        if template is None:
            raise AssertionError(f"{file}: {self.files[file].get('parse_error')}")
        return template

    def text(self, file: str) -> str:
        return (self.root / file).read_text()

    def variable(self, file: str, name: str) -> Any:
        return self.template(file).get("variables", {}).get(name, {}).get("value")

    def resources(self, type_: str | None = None) -> Iterator[Resource]:
        for file in self.files:
            for symbol, raw in (self.template(file).get("resources") or {}).items():
                if type_ is not None and raw["type"] != type_:
                    continue
                yield _resource(file, symbol, raw)

    def resource(self, file: str, symbol: str) -> Resource | None:
        raw = (self.template(file).get("resources") or {}).get(symbol)
        return None if raw is None else _resource(file, symbol, raw)


def _resource(file: str, symbol: str, raw: dict[str, Any]) -> Resource:
    config = raw["config"]
    loop = condition = None
    if "loop_type" in config:
        loop, condition, config = config["loop_type"], config.get("condition"), config["config"]
    elif set(config) == {"condition", "config"}:
        condition, config = config["condition"], config["config"]
    return Resource(file, symbol, raw["type"], bool(raw.get("existing")), config, loop, condition)


def dig(value: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def reference(expression: Any) -> str | None:
    """`a.b.c` for a pycep property-accessor chain, the identifier for a plain string."""
    if isinstance(expression, str):
        return expression
    operands = dig(expression, "operator", "operands")
    if dig(expression, "operator", "type") == "property_accessor" and operands:
        left, right = reference(operands["operand_1"]), reference(operands["operand_2"])
        return f"{left}.{right}" if left and right else None
    return None


def is_equals(expression: Any, left: str, right: str) -> bool:
    operands = dig(expression, "operator", "operands") or {}
    return dig(expression, "operator", "type") == "equals" and {
        operands.get("operand_1"),
        operands.get("operand_2"),
    } == {left, right}


def settings_in(infra: Infra, file: str, expression: Any) -> dict[str, Any]:
    """Every app setting an object expression can produce: literals, union(), `c ? a : b`, vars."""
    if isinstance(expression, str):
        variable = infra.variable(file, expression)
        return settings_in(infra, file, variable) if variable is not None else {}
    if not isinstance(expression, dict):
        return {}
    if "function" in expression and dig(expression, "function", "type") == "union":
        merged: dict[str, Any] = {}
        for argument in expression["function"]["parameters"].values():
            merged.update(settings_in(infra, file, argument))
        return merged
    if dig(expression, "operator", "type") == "conditional":
        operands = expression["operator"]["operands"]
        merged = settings_in(infra, file, operands["true_value"])
        merged.update(settings_in(infra, file, operands["false_value"]))
        return merged
    if "function" in expression or "operator" in expression:
        return {}
    return dict(expression)


def app_settings(infra: Infra) -> dict[str, Any]:
    """The function app's settings: the platform ones of function-app.bicep and main's."""
    settings = settings_in(infra, FUNCTION_APP, "platformSettings")
    settings.update(settings_in(infra, MAIN, "appSettings"))
    return settings


def the_site(infra: Infra) -> Resource | None:
    sites = [r for r in infra.resources("Microsoft.Web/sites") if not r.existing]
    return sites[0] if len(sites) == 1 else None


def _secure_params(template: dict[str, Any]) -> set[str]:
    return {
        name
        for name, param in (template.get("parameters") or {}).items()
        if any(d.get("type") == "secure" for d in param.get("decorators", []))
    }


# ---- the rules ----------------------------------------------------------------------------


def syntax_violations(infra: Infra) -> list[str]:
    """Every .bicep parses (tree-sitter: no ERROR/MISSING; pycep too), no nested resources."""
    found = []
    for file, entry in infra.files.items():
        found += [f"{file}: {e}" for e in entry["errors"]]
        found += [
            f"{file}: nested resource (declare it at top level with parent:) {n}"
            for n in entry["nested_resources"]
        ]
        if entry["template"] is None:
            found.append(f"{file}: pycep cannot parse it: {entry.get('parse_error')}")
    return found


def storage_violations(infra: Infra) -> list[str]:
    found = []
    accounts = [r for r in infra.resources("Microsoft.Storage/storageAccounts") if not r.existing]
    if len(accounts) != 1:
        found.append(f"expected one storage account, found {len(accounts)}")
    for account in accounts:
        props = account.body.get("properties") or {}
        expected = {
            "allowSharedKeyAccess": False,
            "allowBlobPublicAccess": False,
            "minimumTlsVersion": "TLS1_2",
            "supportsHttpsTrafficOnly": True,
        }
        for key, value in expected.items():
            if props.get(key) is not value and props.get(key) != value:
                found.append(f"{account.symbol}.{key} is {props.get(key)!r}, not {value!r}")
    containers = list(infra.resources("Microsoft.Storage/storageAccounts/blobServices/containers"))
    for container in containers:
        access = dig(container.body, "properties", "publicAccess")
        if access != "None":
            found.append(f"container {container.body.get('name')}: publicAccess {access!r}")
        if "parent" not in container.body:
            found.append(f"container {container.body.get('name')}: no parent")
    names = {c.body.get("name") for c in containers}
    for required in ("reports", "cache", "deploymentContainerName"):
        if required not in names:
            found.append(f"container {required} missing")
    tables = {
        t.body.get("name")
        for t in infra.resources("Microsoft.Storage/storageAccounts/tableServices/tables")
    }
    if "analyses" not in tables:
        found.append("table analyses missing")
    return found


def key_material_violations(infra: Infra, extra_files: list[Path]) -> list[str]:
    """No account key, connection string with a key, or key-listing call anywhere."""
    found = []
    texts = {file: infra.text(file) for file in infra.files}
    texts.update({path.name: path.read_text() for path in extra_files})
    for name, text in texts.items():
        for number, line in enumerate(text.splitlines(), 1):
            if KEY_MATERIAL.search(line):
                found.append(f"{name}:{number}: {line.strip()}")
    for setting in ("AzureWebJobsStorage", "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING"):
        if setting in app_settings(infra):
            found.append(f"app setting {setting} (a connection string) is set")
    return found


def identity_storage_violations(infra: Infra) -> list[str]:
    found = []
    settings = app_settings(infra)
    expected = {
        "AzureWebJobsStorage__accountName": "storageAccountName",
        "AzureWebJobsStorage__credential": "managedidentity",
        "AzureWebJobsStorage__clientId": "identityClientId",
        "AZURE_CLIENT_ID": "identityClientId",
    }
    for key, value in expected.items():
        if settings.get(key) != value:
            found.append(f"app setting {key} is {settings.get(key)!r}, not {value!r}")
    site = the_site(infra)
    if site is None:
        return [*found, "expected exactly one function app"]
    body = site.body
    if dig(body, "identity", "type") != "UserAssigned":
        found.append("the site has no user-assigned identity")
    storage = dig(body, "properties", "functionAppConfig", "deployment", "storage") or {}
    if dig(storage, "authentication", "type") != "UserAssignedIdentity":
        found.append("the deployment storage is not reached with the user-assigned identity")
    if dig(storage, "authentication", "userAssignedIdentityResourceId") != "identityId":
        found.append("the deployment storage identity is not the app's identity")
    runtime = dig(body, "properties", "functionAppConfig", "runtime") or {}
    if (runtime.get("name"), str(runtime.get("version"))) != ("python", "3.13"):
        found.append(f"runtime is {runtime}, not python 3.13")
    loop = dig(body, "properties", "siteConfig", "appSettings", "loop_type", "detail") or {}
    if "appSettings" not in str(loop) or "platformSettings" not in str(loop):
        found.append("siteConfig.appSettings is not built from appSettings + platformSettings")
    plans = [r for r in infra.resources("Microsoft.Web/serverfarms") if not r.existing]
    if not plans or dig(plans[0].body, "sku") != {"tier": "FlexConsumption", "name": "FC1"}:
        found.append("the plan is not Flex Consumption (FC1)")
    return found


def role_violations(infra: Infra) -> list[str]:
    """Each role by GUID, named in a comment, scoped to its resource; nothing else granted."""
    found = []
    seen: set[str] = set()
    for assignment in infra.resources("Microsoft.Authorization/roleAssignments"):
        file, body = assignment.file, assignment.body
        role_id = dig(
            body, "properties", "roleDefinitionId", "function", "parameters", "resource_name_1"
        )
        guid = infra.variable(file, role_id) if isinstance(role_id, str) else None
        guid = guid if isinstance(guid, str) else role_id
        if guid not in ROLES:
            found.append(f"{file}:{assignment.symbol}: role {guid!r} is not one the app needs")
            continue
        role, scope_type = ROLES[guid]
        scope = body.get("scope")
        target = infra.resource(file, scope) if isinstance(scope, str) else None
        if target is None or target.type != scope_type:
            found.append(
                f"{file}:{assignment.symbol}: {role} is scoped to "
                f"{target.type if target else scope!r}, not a {scope_type}"
            )
            continue
        if not _named_in_comment(infra.text(file), guid, role):
            found.append(f"{file}: no comment naming {role} above its GUID")
        principal = reference(dig(body, "properties", "principalId"))
        if principal not in {"p.id", "identityPrincipalId", "principalId"}:
            found.append(f"{file}:{assignment.symbol}: unexpected principal {principal!r}")
        seen.add(guid)
    for guid, (role, _) in ROLES.items():
        if guid not in seen:
            found.append(f"{role} ({guid}) is not assigned")
    principals = str(infra.variable(RBAC, "app"))
    if "identityPrincipalId" not in principals:
        found.append("the app identity is not among the principals granted roles")
    rbac = dig(infra.template(MAIN), "modules", "rbac", "config", "params") or {}
    if reference(rbac.get("identityPrincipalId")) != "identity.outputs.principalId":
        found.append("main.bicep does not grant the roles to the app's identity")
    return found


def _named_in_comment(text: str, guid: str, role: str) -> bool:
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if guid in line and line.lstrip().startswith("var "):
            above = []
            for previous in reversed(lines[:index]):
                if not previous.lstrip().startswith("//"):
                    break
                above.append(previous)
            return role in " ".join(" ".join(above).split())
    return False


def key_vault_violations(infra: Infra) -> list[str]:
    found = []
    vaults = [r for r in infra.resources("Microsoft.KeyVault/vaults") if not r.existing]
    if len(vaults) != 1:
        return [f"expected one Key Vault, found {len(vaults)}"]
    props = vaults[0].body.get("properties") or {}
    if props.get("enableRbacAuthorization") is not True:
        found.append(f"enableRbacAuthorization is {props.get('enableRbacAuthorization')!r}")
    if props.get("accessPolicies"):
        found.append("the vault has access policies")
    site = the_site(infra)
    if site is None or dig(site.body, "properties", "keyVaultReferenceIdentity") != "identityId":
        found.append("keyVaultReferenceIdentity is not the app's user-assigned identity")

    settings = app_settings(infra)
    stored = {s.get("name"): s.get("value") for s in infra.variable(KEY_VAULT, "secrets") or []}
    main_secure = _secure_params(infra.template(MAIN))
    vault_secure = _secure_params(infra.template(KEY_VAULT))
    passed = dig(infra.template(MAIN), "modules", "keyVault", "config", "params") or {}
    for setting, (param, secret) in SECRET_SETTINGS.items():
        value = settings.get(setting)
        match = KEY_VAULT_REFERENCE.match(value) if isinstance(value, str) else None
        if match is None:
            found.append(f"{setting} is {value!r}, not a Key Vault reference")
        elif match["name"] != secret:
            found.append(f"{setting} references {match['name']}, not {secret}")
        if param not in main_secure:
            found.append(f"main.bicep parameter {param} is not @secure()")
        if secret not in stored or stored[secret] not in vault_secure:
            found.append(f"secret {secret} is not stored from a @secure() parameter")
        if stored.get(secret) not in passed:
            found.append(f"main.bicep does not pass the {secret} value to the vault")
        elif _guard(infra, setting) != passed[stored[secret]]:
            found.append(f"{setting} is not set exactly when the {secret} secret is stored")
    for setting, value in settings.items():
        if isinstance(value, str) and value in main_secure:
            found.append(f"app setting {setting} carries the secret parameter {value} itself")
    secrets = list(infra.resources("Microsoft.KeyVault/vaults/secrets"))
    if not secrets or secrets[0].loop is None or "secrets" not in str(secrets[0].loop):
        found.append("no secret resource stores the `secrets` list")
    return found


def _guard(infra: Infra, setting: str) -> Any:
    """X in a main.bicep `var v = empty(X) ? {} : { <setting>: ... }`."""
    for variable in (infra.template(MAIN).get("variables") or {}).values():
        operands = dig(variable, "value", "operator", "operands") or {}
        if isinstance(operands.get("false_value"), dict) and setting in operands["false_value"]:
            return dig(operands, "condition", "function", "parameters", "item_to_test")
    return None


def app_insights_violations(infra: Infra) -> list[str]:
    found = []
    components = [r for r in infra.resources("Microsoft.Insights/components") if not r.existing]
    if len(components) != 1:
        return [f"expected one Application Insights, found {len(components)}"]
    props = components[0].body.get("properties") or {}
    if props.get("DisableLocalAuth") is not True:
        found.append(f"DisableLocalAuth is {props.get('DisableLocalAuth')!r}")
    if not props.get("WorkspaceResourceId"):
        found.append("Application Insights is not workspace-based")
    settings = app_settings(infra)
    expected = {
        "APPLICATIONINSIGHTS_AUTHENTICATION_STRING": (
            "ClientId=${identityClientId};Authorization=AAD"
        ),
        "APPLICATIONINSIGHTS_CONNECTION_STRING": "applicationInsightsConnectionString",
        "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY": "true",
    }
    for key, value in expected.items():
        if settings.get(key) != value:
            found.append(f"app setting {key} is {settings.get(key)!r}, not {value!r}")
    return found


def easy_auth_violations(infra: Infra) -> list[str]:
    """authsettingsV2 on the site, switched on by authMode == 'easyauth' and only by it."""
    configs = [
        r
        for r in infra.resources("Microsoft.Web/sites/config")
        if r.body.get("name") == "authsettingsV2"
    ]
    if len(configs) != 1:
        return [f"expected one authsettingsV2, found {len(configs)}"]
    auth, found = configs[0], []
    site = the_site(infra)
    if site is None or auth.body.get("parent") != site.symbol:
        found.append("authsettingsV2 is not a child (parent:) of the function app")

    def gated(value: Any) -> bool:
        if is_equals(auth.condition, "authMode", "easyauth"):
            return value is True
        variable = infra.variable(auth.file, value) if isinstance(value, str) else None
        return is_equals(variable if variable is not None else value, "authMode", "easyauth")

    props = auth.body.get("properties") or {}
    if not gated(dig(props, "platform", "enabled")):
        found.append("platform.enabled does not follow authMode == 'easyauth'")
    if not gated(dig(props, "identityProviders", "azureActiveDirectory", "enabled")):
        found.append("the Entra ID provider does not follow authMode == 'easyauth'")
    validation = props.get("globalValidation") or {}
    if validation.get("requireAuthentication") is not True:
        found.append("requireAuthentication is not true")
    action = validation.get("unauthenticatedClientAction")
    if action != "Return401":
        found.append(f"unauthenticatedClientAction is {action!r}")
    client = dig(props, "identityProviders", "azureActiveDirectory", "registration", "clientId")
    if client != "authClientId":
        found.append(f"the Entra ID provider's clientId is {client!r}, not authClientId")
    passed = dig(infra.template(MAIN), "modules", "api", "config", "params") or {}
    if passed.get("authMode") != "authMode" or passed.get("authClientId") != "authClientId":
        found.append("main.bicep does not pass authMode and authClientId to the app")
    if app_settings(infra).get("AUTH_MODE") != "authMode":
        found.append("AUTH_MODE does not follow the authMode parameter")
    return found


def module_wiring_violations(infra: Infra) -> list[str]:
    """Each module file exists; every parameter passed is declared, every required one passed."""
    found = []
    for name, module in (infra.template(MAIN).get("modules") or {}).items():
        path = (Path(MAIN).parent / module["detail"]["path"]).as_posix()
        if path not in infra.files:
            found.append(f"module {name}: {path} does not exist")
            continue
        declared = infra.template(path).get("parameters") or {}
        body = module["config"]
        body = body["config"] if set(body) == {"condition", "config"} else body
        passed = body.get("params") or {}
        for param in passed:
            if param not in declared:
                found.append(f"module {name}: passes {param}, which {path} does not declare")
        for param, spec in declared.items():
            if spec.get("default") is None and param not in passed:
                found.append(f"module {name}: required parameter {param} is not passed")
    return found
