/** @odoo-module **/
/*
 * The manager's *Import M-Pesa statement* dialog (client action "g2p_payment_mpesa.statement_upload",
 * params {manager_id}). The chosen File goes up as a form's file field (``ufile``, multipart, with
 * the CSRF token) to /g2p_payment_mpesa/statement/<manager id>: the browser streams it from disk (a
 * national cycle's statement is ~200 MiB; it is never read into JavaScript, nor sent base64 in
 * JSON). The route answers JSON: on success the notification action (which then opens the
 * statement), otherwise {"error"}, shown in the dialog, which stays open.
 */
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { standardActionServiceProps } from "@web/webclient/actions/action_service";
import { Component, onWillUnmount, useState } from "@odoo/owl";

const ROUTE = "/g2p_payment_mpesa/statement";

export class MpesaStatementUpload extends Component {
    static template = "g2p_payment_mpesa.MpesaStatementUpload";
    static props = { ...standardActionServiceProps, "*": true };

    setup() {
        this.state = useState({ file: null, uploading: false, progress: 0, error: "" });
        this.xhr = null;
        onWillUnmount(() => {
            if (this.xhr) {
                this.xhr.abort(); // the dialog closed while the file was still going up
            }
        });
    }

    get managerId() {
        return (this.props.action.params || {}).manager_id;
    }

    onFileChange(ev) {
        this.state.file = ev.target.files.length ? ev.target.files[0] : null;
        this.state.error = "";
        this.state.progress = 0;
    }

    onCancel() {
        if (this.xhr) {
            this.xhr.abort();
        }
        return this.env.services.action.doAction({ type: "ir.actions.act_window_close" });
    }

    async onImport() {
        const file = this.state.file;
        if (!file || this.state.uploading) {
            return;
        }
        Object.assign(this.state, { uploading: true, progress: 0, error: "" });
        let answer;
        try {
            answer = await this.upload(file);
        } catch (error) {
            Object.assign(this.state, { uploading: false, error: error.message || String(error) });
            return;
        }
        this.state.uploading = false;
        // The summary in a notification, then the statement (params.next).
        await this.env.services.action.doAction(answer.action);
    }

    upload(file) {
        const url = `${ROUTE}/${encodeURIComponent(this.managerId)}`;
        const form = new FormData();
        form.append("csrf_token", odoo.csrf_token);
        form.append("ufile", file, file.name); // a reference to the file on disk, not its bytes
        return new Promise((resolve, reject) => {
            const xhr = new XMLHttpRequest();
            this.xhr = xhr;
            xhr.open("POST", url); // multipart/form-data with its boundary, set by the browser
            xhr.upload.onprogress = (ev) => {
                if (ev.lengthComputable && ev.total) {
                    this.state.progress = Math.round((100 * ev.loaded) / ev.total);
                }
            };
            xhr.onload = () => {
                this.xhr = null;
                let answer = null;
                try {
                    answer = JSON.parse(xhr.responseText);
                } catch {
                    answer = null; // not the route's answer: a proxy's, or the login page
                }
                if (xhr.status === 200 && answer && answer.action) {
                    resolve(answer);
                } else if (answer && answer.error) {
                    reject(new Error(answer.error));
                } else if (xhr.status === 413) {
                    reject(new Error(_t("The statement file is too large for the server.")));
                } else {
                    reject(
                        new Error(
                            _t(
                                "The server refused the file (HTTP %s). Reload the page (your session may have expired) and try again.",
                                xhr.status
                            )
                        )
                    );
                }
            };
            xhr.onerror = () => {
                this.xhr = null;
                reject(new Error(_t("The file could not be sent: the connection to the server was lost.")));
            };
            xhr.onabort = () => {
                this.xhr = null;
                reject(new Error(_t("The upload was cancelled.")));
            };
            xhr.send(form); // the browser reads the file from disk as it sends it
        });
    }
}

registry.category("actions").add("g2p_payment_mpesa.statement_upload", MpesaStatementUpload);
