#!/usr/bin/python
# Copyright: bgplb developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: kube_token
short_description: A bound ServiceAccount token for a node's bgplb speaker, renewed only when it must be
version_added: 0.2.0
description:
  - Asks the Kubernetes API server for a token of O(service_account) (the TokenRequest API,
    C(serviceaccounts/token)), for the kubeconfig the speaker on a node uses.
  - Idempotent. When O(current) is a token of the same ServiceAccount (same name and UID) that is valid for more
    than a third of O(expiration) still, it is returned unchanged and C(changed) is false; otherwise a new token
    is requested. A ServiceAccount that was deleted and created again gets a new token (its old tokens are void).
  - Runs on the control node (it needs the C(kubernetes) Python package and credentials that may create tokens).
    Use C(no_log) on the task, since the token is returned.
author: bgplb developers (@bgplb)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reports whether a new token would be requested, without requesting it (the current one is returned).
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  kubeconfig:
    description: The control node's kubeconfig; default the C(kubernetes) client's (C(KUBECONFIG), C(~/.kube/config)).
    type: path
  context:
    description: The kubeconfig context to use.
    type: str
  namespace:
    description: The ServiceAccount's namespace.
    type: str
    default: bgplb-system
  service_account:
    description: The ServiceAccount the token is for.
    type: str
    required: true
  expiration:
    description: Lifetime of a new token in seconds (the API server may cap it with its maximum).
    type: int
    default: 2592000
  current:
    description: The token in use now (from the node's kubeconfig), if any.
    type: str
"""

EXAMPLES = r"""
- name: A token for this node's speaker
  baremetal.bgplb.kube_token:
    kubeconfig: ~/.kube/config
    service_account: "bgplb-{{ inventory_hostname }}"
    current: "{{ current_token | default(omit) }}"
  delegate_to: localhost
  no_log: true
  register: token
"""

RETURN = r"""
token:
  description:
    - The new token. Not returned when the current one is kept (C(changed=false)) or in check mode; Ansible masks
      the value of a C(no_log) option such as O(current) in module results, so keep using O(current) then.
  type: str
  returned: changed
expires:
  description: When the token in use expires (seconds since the epoch; 0 in check mode when one would be requested).
  type: int
  returned: always
renewed_because:
  description: Why a new token was requested (empty when the current one was kept).
  type: str
  returned: always
"""

import base64  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402

from ansible.module_utils.basic import AnsibleModule, missing_required_lib  # noqa: E402

try:
    from kubernetes import client, config

    HAS_KUBERNETES = True
    KUBERNETES_ERROR = None
except ImportError:
    HAS_KUBERNETES = False
    KUBERNETES_ERROR = traceback.format_exc()


def claims(token):
    """The payload of a JWT (not verified: the API server verifies it; this only reads name, UID and expiry)."""
    try:
        payload = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, AttributeError):
        return {}


def why_renew(current, namespace, name, uid, expiration, now):
    if not current:
        return "no current token"
    c = claims(current)
    k8s = c.get("kubernetes.io") or {}
    if c.get("sub") != f"system:serviceaccount:{namespace}:{name}":
        return f"the current token is not one of {namespace}/{name}"
    if (k8s.get("serviceaccount") or {}).get("uid") != uid:
        return "the ServiceAccount was created again"
    if int(c.get("exp", 0)) - now < expiration / 3:
        return "the current token expires in less than a third of its lifetime"
    return ""


def main():
    module = AnsibleModule(
        argument_spec=dict(
            kubeconfig=dict(type="path"),
            context=dict(type="str"),
            namespace=dict(type="str", default="bgplb-system"),
            service_account=dict(type="str", required=True),
            expiration=dict(type="int", default=2592000),
            current=dict(type="str", no_log=True),
        ),
        supports_check_mode=True,
    )
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes"), exception=KUBERNETES_ERROR)
    p = module.params
    try:
        api = config.new_client_from_config(config_file=p["kubeconfig"], context=p["context"])
        core = client.CoreV1Api(api)
        sa = core.read_namespaced_service_account(p["service_account"], p["namespace"])
        reason = why_renew(p["current"], p["namespace"], p["service_account"], sa.metadata.uid, p["expiration"],
                           time.time())  # fmt: skip
        if not reason:
            module.exit_json(changed=False, expires=int(claims(p["current"])["exp"]), renewed_because="")
        if module.check_mode:
            module.exit_json(changed=True, expires=0, renewed_because=reason)
        body = {"spec": {"expirationSeconds": p["expiration"]}}
        result = core.create_namespaced_service_account_token(p["service_account"], p["namespace"], body)
    except client.ApiException as err:
        module.fail_json(msg=f"Kubernetes API: {err.status} {err.reason}: {(err.body or '')[:500]}")
    except Exception as err:  # kubeconfig errors, unreachable API server
        module.fail_json(msg=f"cannot get a token for {p['namespace']}/{p['service_account']}: {err}")
    token = result.status.token
    module.exit_json(changed=True, token=token, expires=int(claims(token).get("exp", 0)), renewed_because=reason)


if __name__ == "__main__":
    main()
