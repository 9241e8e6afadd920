"""Upstream connectors (CRM: builtin, Salesforce, Dynamics; JDLink telematics).

Empty until the issues that federate those sources land; the store is the only source so far.
"""
