"""CRMs an organization connects: the interface every adapter speaks (``base``), the built-in
CRM, Salesforce and Microsoft Dynamics (Dataverse) with a local simulator each, and the
registry that makes an organization's adapter from its stored configuration."""
