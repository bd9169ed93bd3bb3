"""An all-in-one OpenStack on this machine whose hypervisor is Docker.

Real Keystone, Glance, Placement, Nova and Neutron from the pinned PyPI
releases, RabbitMQ from Debian; all state, logs and pid files under one
directory.
"""
