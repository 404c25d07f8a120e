"""xenpair: create a customer's hosting + backup pair of Xen guests with xen-create-image."""

__version__ = "0.1.0"
