#!/usr/bin/env bash
# The main job on the embedded default: installs what is needed (scripts/setup-deps.sh), builds the lab images,
# starts the lab (2 FRR routers, 3 speaker nodes, 1 client as podman containers), rolls out bgplb with
# `ansible-playbook baremetal.bgplb.site`, then shows what the client sees. Re-running is safe (idempotent).
#   bash lab/run.sh          # up + site + show
#   bash lab/run.sh k8s      # the same with a Kubernetes control plane (lab/kubernetes.yml) and a LoadBalancer Service
#   bash lab/run.sh down     # remove the lab
set -euo pipefail
cd "$(dirname "$0")/.."
inventory=(-i lab/inventory.yml)

if [ "${1:-up}" = down ]; then
  .venv/bin/ansible-playbook "${inventory[@]}" -i lab/spare.yml -i lab/kubernetes.yml lab/down.yml
  exit
fi
k8s=0
if [ "${1:-up}" = k8s ]; then
  k8s=1
  inventory+=(-i lab/kubernetes.yml)
fi
bash scripts/setup-deps.sh
export PATH="$PWD/.venv/bin:$PATH"
echo "== lab: images, containers, lab plumbing"
ansible-playbook "${inventory[@]}" lab/up.yml lab/prepare.yml
if ((k8s)); then
  echo "== lab: Kubernetes control plane (etcd + kube-apiserver in lab-k8s), the nodes registered"
  ansible-playbook "${inventory[@]}" lab/kube-up.yml
fi
echo "== bgplb: ansible-playbook baremetal.bgplb.site"
ansible-playbook "${inventory[@]}" baremetal.bgplb.site
if ((k8s)); then
  echo "== kubernetes: a LoadBalancer Service, allocated and announced by the speakers"
  ansible-playbook "${inventory[@]}" lab/kube-demo.yml
fi
echo "== the client asks the service IP 30 times over fresh connections:"
podman exec lab-client sh -c 'for i in $(seq 30); do curl -s --max-time 2 http://198.51.100.10/; done' | sort | uniq -c
echo "== r1's kernel route for the service IP:"
podman exec lab-r1 ip route show 198.51.100.10
