#!/usr/bin/python3
"""Seeds the test cloud that scripts/openstack.sh starts (Debian's openstacksdk).

    seed.py catalog DIR PASSWORD   service users, roles and every endpoint
    seed.py cloud DIR PASSWORD     hypervisors, flavors, image, servers,
                                   Ironic nodes; writes DIR/env

The cloud: compute-1..3 (nova-compute on the fake live-migrate driver), each
with an Ironic node of the same name (fake-hardware, powered on) whose
`extra.compute_node_id` is the hypervisor's id; flavors rb.small and
rb.medium; a 1 KiB raw image; vm-1, vm-2, vm-3 ACTIVE on compute-1 with no
network. DIR/env (sourceable) holds OS_* for the admin, the URLs, and the
rollback-host service user.
"""
import json
import sys
import time

import openstack

URL = "http://127.0.0.1:15000/v3"
ENDPOINTS = {
    # name: (type, url)
    "glance": ("image", "http://127.0.0.1:19292"),
    "placement": ("placement", "http://127.0.0.1:18778"),
    "neutron": ("network", "http://127.0.0.1:19696"),
    "nova": ("compute", "http://127.0.0.1:18774/v2.1"),
    "ironic": ("baremetal", "http://127.0.0.1:16385"),
    "watcher": ("infra-optim", "http://127.0.0.1:19322"),
}


def connect(password, **extra):
    return openstack.connect(
        auth_url=URL, username="admin", password=password, project_name="admin",
        user_domain_name="Default", project_domain_name="Default", region_name="RegionOne",
        identity_api_version="3", **extra)


def catalog(password):
    c = connect(password)
    idn = c.identity
    service_project = idn.find_project("service") or idn.create_project(name="service", domain_id="default")
    admin_role = idn.find_role("admin")
    for name in ("service", "reader", "member"):
        idn.find_role(name) or idn.create_role(name=name)
    for user in ("os-service", "rollback"):
        u = idn.find_user(user) or idn.create_user(name=user, password=password, domain_id="default")
        c.identity.assign_project_role_to_user(service_project, u, admin_role)
    for name, (kind, url) in ENDPOINTS.items():
        svc = idn.find_service(name) or idn.create_service(name=name, type=kind)
        have = {e.interface for e in idn.endpoints(service_id=svc.id)}
        for interface in ("public", "internal", "admin"):
            if interface not in have:
                idn.create_endpoint(service_id=svc.id, interface=interface, url=url, region_id="RegionOne")


def wait(what, check, seconds=240):
    until = time.time() + seconds
    while True:
        got = check()
        if got:
            return got
        if time.time() > until:
            sys.exit(f"seed.py: timed out waiting for {what}")
        time.sleep(1)


def cloud(dir, password):
    c = connect(password, compute_api_version="2.74", baremetal_api_version="1.72")
    hosts = ["compute-1", "compute-2", "compute-3"]

    def hypervisors():
        found = {h.name: h for h in c.compute.hypervisors(details=True)}
        return found if all(h in found for h in hosts) else None

    # Neutron's port list fails until its process has run one query (its
    # models' back references are configured by the first): list networks.
    list(c.network.networks())
    list(c.network.ports())
    hyp = wait("three hypervisors", hypervisors)
    # Placement must know them too before the scheduler can choose them.
    wait("resource providers", lambda: len(list(c.placement.resource_providers())) >= 3)

    for name, ram, vcpus in (("rb.small", 256, 1), ("rb.medium", 512, 2)):
        c.compute.find_flavor(name) or c.compute.create_flavor(name=name, ram=ram, vcpus=vcpus, disk=1)
    image = c.image.find_image("rb-tiny")
    if image is None:
        image = c.image.create_image(name="rb-tiny", disk_format="raw", container_format="bare",
                                     data=b"\0" * 1024, visibility="public")
    wait("the image", lambda: c.image.get_image(image.id).status == "active")

    servers = {}
    for name in ("vm-1", "vm-2", "vm-3"):
        s = c.compute.find_server(name)
        if s is None:
            s = c.compute.create_server(name=name, image_id=image.id, flavor_id=c.compute.find_flavor("rb.small").id,
                                        networks="none", availability_zone="nova:compute-1")
        servers[name] = s.id
    for name, sid in servers.items():
        s = wait(f"{name} ACTIVE", lambda: (lambda s: s if s.status in ("ACTIVE", "ERROR") else None)(
            c.compute.get_server(sid)))
        if s.status != "ACTIVE":
            sys.exit(f"seed.py: {name} is {s.status}: {s.fault}")

    bm = c.baremetal
    for h in hosts:
        node = bm.find_node(h)
        if node is None:
            node = bm.create_node(name=h, driver="fake-hardware", extra={"compute_node_id": hyp[h].id})
        if node.provision_state == "enroll":
            bm.set_node_provision_state(node, "manage", wait=True)
            node = bm.get_node(node.id)
        if node.provision_state == "manageable":
            bm.set_node_provision_state(node, "provide", wait=True)
        if bm.get_node(node.id).power_state != "power on":
            bm.set_node_power_state(node, "power on", wait=True)

    env = {
        "OS_AUTH_URL": URL, "OS_USERNAME": "admin", "OS_PASSWORD": password, "OS_PROJECT_NAME": "admin",
        "OS_USER_DOMAIN_NAME": "Default", "OS_PROJECT_DOMAIN_NAME": "Default", "OS_REGION_NAME": "RegionOne",
        "OS_IDENTITY_API_VERSION": "3",
        "ROLLBACK_OS_USERNAME": "rollback", "ROLLBACK_OS_PROJECT": "service",
        "OS_HYPERVISORS": json.dumps({h: hyp[h].id for h in hosts}),
        "OS_SERVERS": json.dumps(servers),
    }
    with open(f"{dir}/env", "w") as f:
        for k, v in env.items():
            f.write(f"{k}='{v}'\n")


if __name__ == "__main__":
    what, dir, password = sys.argv[1:4]
    {"catalog": lambda: catalog(password), "cloud": lambda: cloud(dir, password)}[what]()
