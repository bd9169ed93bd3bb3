"""The registry side of novadocker: what Docker's own registry (CNCF
distribution) delegates to OpenStack."""
