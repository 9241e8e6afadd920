"""The scopes a service token may carry (space-separated in its ``scope`` claim).

A service sees only what its scopes name: ``read`` opens every organization's rows, and each
restricted field needs its own scope on top.
"""

from __future__ import annotations

READ = "read"  # every organization's desk: tickets, messages, people, machines, tags
READ_JDLINK = "read:jdlink"  # Machine.jdlink
READ_CONTACT_DETAILS = "read:contact-details"  # CustomerUser.address, accountNumber, notes
READ_CRM = "read:crm"  # CustomerCard.crmRecords, Interaction.linkedCrmRecords

ALL = frozenset({READ, READ_JDLINK, READ_CONTACT_DETAILS, READ_CRM})
