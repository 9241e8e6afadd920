"""Who is asking, and what they may see and do.

``tokens`` turns a bearer token into a principal, ``viewer`` describes the asking viewer, and one
module per domain holds that domain's access rules as plain functions (each with a SQL form for
lists where rows are filtered in the database).
"""
