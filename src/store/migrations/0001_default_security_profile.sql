-- The default security profile. Session lifetimes follow NIST SP 800-63B-4
-- AAL2 (idle 1 h, absolute 24 h); "keep me logged in" is a documented
-- deviation (idle 30 days, absolute 90 days) that users opt into per sign-in.
INSERT INTO `security_profiles` (
  `id`, `name`, `password_min_length`, `password_min_score`, `password_history_length`,
  `mfa_required`, `lockout_threshold`, `lockout_window_seconds`, `access_token_ttl_seconds`,
  `refresh_idle_ttl_seconds`, `refresh_absolute_ttl_seconds`, `keep_logged_in_idle_ttl_seconds`,
  `keep_logged_in_absolute_ttl_seconds`, `refresh_grace_seconds`, `created_at`, `updated_at`
) VALUES (
  '00000000-0000-4000-8000-000000000001', 'default', 12, 3, 5,
  0, 10, 900, 900,
  3600, 86400, 2592000,
  7776000, 10, 0, 0
);
