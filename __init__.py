"""deskgraph: a GraphQL gateway for dealer and service-desk teams."""
