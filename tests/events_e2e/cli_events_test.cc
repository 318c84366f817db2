// Placeholder: the event-source e2e tests of this area are written next.
