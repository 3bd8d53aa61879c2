/** @odoo-module **/
/*
 * Live M-Pesa progress on the cycle form: the server announces on the bus
 * ("g2p_payment_mpesa.progress", {model, id}) when a cycle's payments change; an open cycle form
 * that is not being edited reloads its record, at most once a second. While payments are still in
 * flight it looks once more a few seconds after the last announcement (the server announces at
 * most once a second per process, so the last change of a burst may come unannounced).
 *
 * The M-Pesa payment manager's form (a page or a dialog) is announced the same way when a float
 * report arrives (a payment's result, a reversal's, a balance query's), looks once more a few
 * seconds later (results' floats are announced at most once a second), and reloads its record
 * after any of its buttons: the buttons answer with a notification only, so that a dialog stays
 * open (Odoo's soft_reload restores the page behind a dialog, which closes the dialog).
 */
import { registry } from "@web/core/registry";
import { patch } from "@web/core/utils/patch";
import { FormController } from "@web/views/form/form_controller";
import { onWillUnmount, status } from "@odoo/owl";

const NOTIFICATION = "g2p_payment_mpesa.progress";
const MANAGER = "g2p.program.payment.manager.mpesa";
const LIVE_MODELS = ["g2p.cycle", MANAGER];
const MIN_INTERVAL_MS = 1000;
const TRAILING_MS = 4000;

export const mpesaProgressService = {
    dependencies: ["bus_service"],
    start(env, { bus_service }) {
        const listeners = new Set();
        bus_service.subscribe(NOTIFICATION, (payload) => {
            for (const listener of listeners) {
                listener(payload);
            }
        });
        bus_service.start();
        return {
            add(listener) {
                listeners.add(listener);
                return () => listeners.delete(listener);
            },
        };
    },
};
registry.category("services").add("mpesa_progress", mpesaProgressService);

patch(FormController.prototype, {
    setup() {
        super.setup(...arguments);
        const model = this.props.resModel;
        if (!LIVE_MODELS.includes(model)) {
            return;
        }
        const progress = this.env.services.mpesa_progress;
        if (!progress) {
            return;
        }
        let last = 0;
        let timer = null;
        let gone = false;
        const reload = async (trailing = false) => {
            timer = null;
            const root = this.model.root;
            if (gone || !root || !root.resId || (await root.isDirty()) || gone) {
                return;
            }
            last = Date.now();
            try {
                await root.load();
            } catch (error) {
                if (gone) {
                    return; // the form was left while it reloaded: nothing to show any more
                }
                throw error;
            }
            if (!gone && model === "g2p.cycle" && root.data.mpesa_in_flight_count > 0) {
                timer = setTimeout(reload, TRAILING_MS);
            } else if (!gone && model === MANAGER && !trailing && !timer) {
                // Floats are announced at most once a second: the last of a burst is read then.
                timer = setTimeout(() => reload(true), TRAILING_MS);
            }
        };
        const schedule = (payload) => {
            const root = this.model.root;
            if (!payload || payload.model !== model || !root || payload.id !== root.resId) {
                return;
            }
            if (timer) {
                clearTimeout(timer);
            }
            timer = setTimeout(reload, Math.max(0, last + MIN_INTERVAL_MS - Date.now()));
        };
        const remove = progress.add(schedule);
        onWillUnmount(() => {
            gone = true;
            remove();
            if (timer) {
                clearTimeout(timer);
            }
        });
    },

    async afterExecuteActionButton(clickParams) {
        await super.afterExecuteActionButton(...arguments);
        const root = this.model.root;
        if (
            this.props.resModel === MANAGER &&
            clickParams.type === "object" &&
            status(this) !== "destroyed" &&
            root &&
            root.resId
        ) {
            // What the button changed (a key fetched, a secret rotated, sending resumed) shows.
            await root.load();
        }
    },
});
