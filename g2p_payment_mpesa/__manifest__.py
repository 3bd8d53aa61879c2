{
    "name": "OpenG2P Program Payment: M-Pesa (Daraja B2C)",
    "summary": "Pay beneficiaries to M-Pesa wallets through Daraja B2C: results, reconciliation, "
    "never twice",
    "category": "G2P",
    "version": "17.0.1.0.0",
    "author": "g2p_payment_mpesa contributors",
    "license": "LGPL-3",
    "depends": ["g2p_programs", "queue_job", "bus"],
    "external_dependencies": {
        "python": ["mpesa_wire", "requests", "phonenumbers", "cryptography", "xlsxwriter"]
    },
    "data": [
        "security/ir.model.access.csv",
        "data/queue_job_data.xml",
        "data/ir_cron_data.xml",
        "data/mail_activity_data.xml",
        "data/mpesa_reversal_data.xml",
        "report/mpesa_reconciliation_report.xml",
        "views/payment_manager_views.xml",
        "views/mpesa_transaction_views.xml",
        "views/payment_views.xml",
        "views/payment_batch_views.xml",
        "views/mpesa_preflight_views.xml",
        "views/mpesa_statement_views.xml",
        "views/mpesa_reversal_views.xml",
    ],
    "demo": ["demo/mpesa_demo.xml"],
    "assets": {
        "web.assets_backend": [
            "g2p_payment_mpesa/static/src/js/mpesa_progress.js",
            "g2p_payment_mpesa/static/src/js/mpesa_statement_upload.js",
            "g2p_payment_mpesa/static/src/xml/mpesa_statement_upload.xml",
        ]
    },
    "installable": True,
    "application": False,
}
