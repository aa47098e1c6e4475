"""Who is told: alerts through the Apprise connection `gatewayz_alerts` (send), their words (messages, digest)
and the model sync's Deadline Alert (deadline)."""
