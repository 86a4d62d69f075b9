-- A device that never chose is pushed only mentions (and direct
-- messages) in shared rooms from now on. Devices already subscribed got
-- everything until now: they keep it, as if they had chosen it.
INSERT OR IGNORE INTO push_modes (device_id, room_id, mode)
SELECT DISTINCT device_id, 0, 'all' FROM push_subscriptions;
