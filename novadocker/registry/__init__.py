"""The registry side of novadocker: what Docker's own registry (CNCF
distribution) delegates to OpenStack."""

# The token service's user name whose password is a Keystone token.
TOKEN_USER = 'keystone-token'

# In each project, the repository where the driver pushes snapshots, tagged
# with their Glance image ids; Nova makes their Glance images.
SNAPSHOTS = 'nova-snapshots'
# In each project, where the driver moves a container's files to another
# host, tagged with the instance's uuid; they are no Glance images.
MIGRATIONS = 'nova-migrations'
