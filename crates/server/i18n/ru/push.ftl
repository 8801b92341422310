## Notifications (Web Push) and the push permission check.
