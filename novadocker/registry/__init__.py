"""The registry side of novadocker: what Docker's own registry (CNCF
distribution) delegates to OpenStack."""

# The token service's user name whose password is a Keystone token.
TOKEN_USER = 'keystone-token'

# In each project, the repository where the driver pushes snapshots, tagged
# with their Glance image ids; Nova makes their Glance images.
SNAPSHOTS = 'nova-snapshots'
