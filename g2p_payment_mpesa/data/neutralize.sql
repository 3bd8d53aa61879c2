-- A copied database must never pay anyone: no credentials, no sending, a new callback secret.
UPDATE g2p_program_payment_manager_mpesa
   SET consumer_key = NULL,
       consumer_secret = NULL,
       initiator_password = NULL,
       api_key = NULL,
       simulator_admin_token = NULL,
       spar_private_key = NULL,
       callback_secret = md5(random()::text || clock_timestamp()::text),
       sending_enabled = false;
