{
    "name": "OpenG2P Program Payment: M-Pesa (Daraja B2C)",
    "summary": "Pay beneficiaries to M-Pesa wallets through Daraja B2C: results, reconciliation, "
    "never twice",
    "category": "G2P",
    "version": "17.0.1.0.0",
    "author": "g2p_payment_mpesa contributors",
    "license": "LGPL-3",
    "depends": ["g2p_programs", "queue_job"],
    "external_dependencies": {"python": ["requests", "phonenumbers", "cryptography"]},
    "data": [
        "security/ir.model.access.csv",
        "data/queue_job_data.xml",
        "data/ir_cron_data.xml",
        "data/mail_activity_data.xml",
        "views/payment_manager_views.xml",
        "views/mpesa_transaction_views.xml",
        "views/payment_views.xml",
        "views/payment_batch_views.xml",
    ],
    "demo": ["demo/mpesa_demo.xml"],
    "installable": True,
    "application": False,
}
