use crate::api::{PushMode, PushSettings, SetPushMode};
use crate::state::{ChatState, Overlay, Ui};
use leptos::prelude::*;

/// Where this browser stands with notifications (only the browser moves
/// past `Checking`).
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
#[derive(Clone, Debug, PartialEq, Eq)]
enum Phase {
    Checking,
    NeedsHomeScreen,
    Unsupported,
    Blocked,
    Off,
    /// Waiting on the browser (the permission prompt) or the server.
    Working,
    On,
    Failed(String),
}

const MODES: [(PushMode, &str); 3] = [
    (PushMode::All, "All messages"),
    (PushMode::Mentions, "Mentions and direct messages"),
    (PushMode::Off, "Nothing for now"),
];

/// The bell's dialog: turn notifications on in this browser (after a tap,
/// never by itself), explain when the browser cannot, and choose what is
/// pushed, for the device and for the room shown.
#[component]
pub fn NotificationsDialog() -> impl IntoView {
    let state = expect_context::<ChatState>();
    let ui = expect_context::<Ui>();
    let phase = RwSignal::new(Phase::Checking);
    let settings = RwSignal::new(None::<PushSettings>);
    #[cfg(feature = "hydrate")]
    let browser = browser::Browser::new(phase, settings);
    Effect::new(move |_| {
        if ui.is(Overlay::Notifications) {
            #[cfg(feature = "hydrate")]
            browser.check();
        }
    });
    let close = move || ui.close(Overlay::Notifications);
    let room_name = move || {
        state
            .room
            .with(|r| r.as_ref().map(|r| r.name.clone()).unwrap_or_default())
    };
    let set_mode = crate::components::server_call::<SetPushMode>();
    Effect::new(move |_| match set_mode.value().get() {
        Some(Ok(s)) => settings.set(Some(s)),
        Some(Err(e)) => phase.set(Phase::Failed(e.to_string())),
        None => {}
    });
    let choose = move |room, mode: Option<PushMode>| {
        set_mode.dispatch(SetPushMode {
            room,
            mode: mode.map(|m| m.as_str().to_owned()),
        });
    };
    let device_mode = move || settings.with(|s| s.as_ref().map(|s| s.mode));
    let room_mode = move || {
        let room = state.room_id();
        settings.with(|s| s.as_ref().and_then(|s| s.mode_in(room)))
    };

    view! {
        <Show when=move || ui.is(Overlay::Notifications)>
            <div class="name-prompt" role="dialog" aria-modal="true" aria-labelledby="notify-title">
                <div class="name-form notifications">
                    <h2 id="notify-title">"Notifications"</h2>
                    {move || match phase.get() {
                        Phase::Checking => view! { <p class="hint">"Checking this browser…"</p> }.into_any(),
                        Phase::Working => view! { <p class="hint">"Asking the browser…"</p> }.into_any(),
                        Phase::NeedsHomeScreen => view! {
                            <div class="hint push-steps">
                                <p>
                                    "On iPhone and iPad, notifications work once the chat is on your "
                                    "Home Screen (iOS 16.4 or later):"
                                </p>
                                <ol>
                                    <li>"Tap the Share button in Safari."</li>
                                    <li>"Choose \u{201c}Add to Home Screen\u{201d}."</li>
                                    <li>"Open the chat from its new icon and tap the bell again."</li>
                                </ol>
                            </div>
                        }.into_any(),
                        Phase::Unsupported => view! {
                            <p class="hint">
                                "This browser cannot show notifications from the chat. "
                                "Current Chrome, Edge, Firefox and Safari can."
                            </p>
                        }.into_any(),
                        Phase::Blocked => view! {
                            <p class="hint">
                                "Notifications are blocked for this site. Allow them in the "
                                "browser's site settings, then open this again."
                            </p>
                        }.into_any(),
                        Phase::Failed(why) => view! { <p class="name-error" role="alert">{why}</p> }.into_any(),
                        Phase::Off => view! {
                            <p class="hint">
                                "Get a notification when a message arrives while the chat is not "
                                "on your screen."
                            </p>
                            <button
                                type="button"
                                class="join notify-on"
                                on:click=move |_| {
                                    #[cfg(feature = "hydrate")]
                                    browser.turn_on();
                                }
                            >
                                "Notify me"
                            </button>
                        }.into_any(),
                        Phase::On => view! {
                            <p class="hint push-status">"Notifications are on in this browser."</p>
                            <fieldset class="push-modes">
                                <legend>"Notify this device about"</legend>
                                {MODES
                                    .into_iter()
                                    .map(|(mode, label)| view! {
                                        <label>
                                            <input
                                                type="radio"
                                                name="push-mode"
                                                value=mode.as_str()
                                                prop:checked=move || device_mode() == Some(mode)
                                                on:change=move |_| choose(None, Some(mode))
                                            />
                                            {label}
                                        </label>
                                    })
                                    .collect_view()}
                            </fieldset>
                            <label class="push-room">
                                <span>"In #" {room_name}</span>
                                <select
                                    prop:value=move || room_mode().map_or("", PushMode::as_str)
                                    on:change=move |ev| {
                                        let mode = PushMode::parse(&event_target_value(&ev));
                                        choose(Some(state.room_id()), mode);
                                    }
                                >
                                    <option value="">"As above"</option>
                                    {MODES
                                        .into_iter()
                                        .map(|(mode, label)| view! { <option value=mode.as_str()>{label}</option> })
                                        .collect_view()}
                                </select>
                            </label>
                            <button
                                type="button"
                                class="cancel notify-off"
                                on:click=move |_| {
                                    #[cfg(feature = "hydrate")]
                                    browser.turn_off();
                                }
                            >
                                "Turn off in this browser"
                            </button>
                        }.into_any(),
                    }}
                    <div class="name-actions">
                        <button type="button" class="join" on:click=move |_| close()>"Done"</button>
                    </div>
                </div>
            </div>
        </Show>
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use super::Phase;
    use crate::api::{notification_settings, push_subscribe, push_unsubscribe, PushSettings};
    use crate::notify::{self, BrowserSubscription, Support};
    use leptos::prelude::*;
    use web_sys::ServiceWorkerRegistration;

    /// How long to wait for the service worker; it never starts where the
    /// certificate is not trusted.
    const WORKER_WAIT_MS: u32 = 5_000;

    #[derive(Clone, Copy)]
    pub struct Browser {
        phase: RwSignal<Phase>,
        settings: RwSignal<Option<PushSettings>>,
        registration: StoredValue<Option<ServiceWorkerRegistration>, LocalStorage>,
    }

    impl Browser {
        pub fn new(phase: RwSignal<Phase>, settings: RwSignal<Option<PushSettings>>) -> Self {
            Self {
                phase,
                settings,
                registration: StoredValue::new_local(None),
            }
        }

        /// Reads where this browser stands; a subscription it already has
        /// is stored again (the server may have dropped it, or it may
        /// belong to the identity this browser now uses).
        // These chain the browser's own promises (its service worker, its
        // push subscription) with server calls, and some must begin inside
        // the tap: tasks of their own rather than one server action.
        pub fn check(self) {
            self.phase.set(Phase::Checking);
            match notify::support() {
                Support::Ready => {}
                Support::NeedsHomeScreen => return self.phase.set(Phase::NeedsHomeScreen),
                Support::Unsupported => return self.phase.set(Phase::Unsupported),
                Support::Blocked => return self.phase.set(Phase::Blocked),
            }
            leptos::task::spawn_local(async move {
                let result = async {
                    let settings = notification_settings().await.map_err(|e| e.to_string())?;
                    self.settings.set(Some(settings));
                    let reg = worker().await?;
                    let current = notify::current(&reg).await?;
                    self.registration.set_value(Some(reg));
                    match current {
                        Some(sub) => self.store(sub).await,
                        None => Ok(Phase::Off),
                    }
                }
                .await;
                self.phase.set(result.unwrap_or_else(Phase::Failed));
            });
        }

        /// Subscribes; the browser's call is made inside the tap.
        pub fn turn_on(self) {
            let Some(reg) = self.registration.get_value() else {
                return;
            };
            let key = self
                .settings
                .with_untracked(|s| s.as_ref().map(|s| s.key.clone()))
                .unwrap_or_default();
            let promise = match notify::start_subscribe(&reg, &key) {
                Ok(promise) => promise,
                Err(e) => return self.phase.set(Phase::Failed(e)),
            };
            self.phase.set(Phase::Working);
            leptos::task::spawn_local(async move {
                let result = match notify::finish_subscribe(promise).await {
                    Ok(sub) => self.store(sub).await,
                    Err(_) if notify::support() == Support::Blocked => Ok(Phase::Blocked),
                    Err(e) => Err(e),
                };
                self.phase.set(result.unwrap_or_else(Phase::Failed));
            });
        }

        pub fn turn_off(self) {
            let Some(reg) = self.registration.get_value() else {
                return;
            };
            self.phase.set(Phase::Working);
            leptos::task::spawn_local(async move {
                let result = async {
                    if let Some(endpoint) = notify::unsubscribe(&reg).await? {
                        let s = push_unsubscribe(endpoint)
                            .await
                            .map_err(|e| e.to_string())?;
                        self.settings.set(Some(s));
                    }
                    Ok(Phase::Off)
                }
                .await;
                self.phase.set(result.unwrap_or_else(Phase::Failed));
            });
        }

        async fn store(self, sub: BrowserSubscription) -> Result<Phase, String> {
            let s = push_subscribe(sub.endpoint, sub.keys.p256dh, sub.keys.auth)
                .await
                .map_err(|e| e.to_string())?;
            self.settings.set(Some(s));
            Ok(Phase::On)
        }
    }

    async fn worker() -> Result<ServiceWorkerRegistration, String> {
        use futures::future::{select, Either};
        let timeout = gloo_timers::future::TimeoutFuture::new(WORKER_WAIT_MS);
        match select(Box::pin(notify::registration()), timeout).await {
            Either::Left((reg, _)) => reg,
            Either::Right(_) => Err("The chat's service worker is not running, so this browser \
                 cannot receive notifications. It needs the chat over HTTPS with a trusted \
                 certificate."
                .into()),
        }
    }
}
