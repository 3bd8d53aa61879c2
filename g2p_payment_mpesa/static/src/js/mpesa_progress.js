/** @odoo-module **/
/*
 * Live M-Pesa progress on the cycle form: the server announces on the bus
 * ("g2p_payment_mpesa.progress", {model, id}) when a cycle's payments change; an open cycle form
 * that is not being edited reloads its record, at most once a second. While payments are still in
 * flight it looks once more a few seconds after the last announcement (the server announces at
 * most once a second per process, so the last change of a burst may come unannounced).
 */
import { registry } from "@web/core/registry";
import { patch } from "@web/core/utils/patch";
import { FormController } from "@web/views/form/form_controller";
import { onWillUnmount } from "@odoo/owl";

const NOTIFICATION = "g2p_payment_mpesa.progress";
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
        if (this.props.resModel !== "g2p.cycle") {
            return;
        }
        const progress = this.env.services.mpesa_progress;
        if (!progress) {
            return;
        }
        let last = 0;
        let timer = null;
        let gone = false;
        const reload = async () => {
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
            if (!gone && root.data.mpesa_in_flight_count > 0) {
                timer = setTimeout(reload, TRAILING_MS);
            }
        };
        const schedule = (payload) => {
            const root = this.model.root;
            if (!payload || payload.model !== "g2p.cycle" || !root || payload.id !== root.resId) {
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
});
