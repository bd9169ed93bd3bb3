"""An all-in-one OpenStack on 127.0.0.1 whose hypervisor is Docker.

Real Keystone, Glance, Placement, Nova and Neutron from the pinned PyPI
releases, RabbitMQ from Debian; all state, logs and pid files under one
directory.
"""
