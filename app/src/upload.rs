//! Sending a photo or file: `POST /upload` with progress (fetch cannot
//! report upload progress, XMLHttpRequest can). Browser only.

use crate::chunks::{chunk_arrived, chunk_missing};
use crate::protocol::Uploaded;
use crate::state::ChatState;
use leptos::prelude::*;
use leptos::wasm_split::{wasm_split, SplitLoaderError};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{File, ProgressEvent, XmlHttpRequest};

/// What the server says when it refuses a file.
#[derive(serde::Deserialize)]
struct Refused {
    error: String,
}

/// Uploads `file`; on success it waits in the composer to be sent. The
/// upload code is a WASM chunk of its own, fetched the first time a file
/// is picked, pasted or dropped.
pub fn start(state: ChatState, file: File) {
    leptos::task::spawn_local(async move {
        match upload(state, file).await {
            Ok(()) => chunk_arrived(state),
            Err(_) => chunk_missing(state),
        }
    });
}

#[wasm_split(chat_upload, wasm_split_path = ::leptos::wasm_split, fallible)]
fn upload(state: ChatState, file: File) -> Result<(), SplitLoaderError> {
    send(state, file);
    Ok(())
}

fn send(state: ChatState, file: File) {
    let name = file.name();
    let Ok(xhr) = XmlHttpRequest::new() else {
        return;
    };
    let url = format!(
        "/upload?name={}",
        String::from(js_sys::encode_uri_component(&name))
    );
    if xhr.open("POST", &url).is_err() {
        return;
    }
    state.uploading.set(Some((name, 0.0)));
    state.attached.set(None);
    if let Ok(upload) = xhr.upload() {
        let on_progress = Closure::<dyn FnMut(ProgressEvent)>::new(move |ev: ProgressEvent| {
            if ev.length_computable() && ev.total() > 0.0 {
                let share = ev.loaded() / ev.total();
                state.uploading.update(|u| {
                    if let Some((_, p)) = u {
                        *p = share;
                    }
                });
            }
        });
        upload.set_onprogress(Some(on_progress.as_ref().unchecked_ref()));
        on_progress.forget();
    }
    let done = {
        let xhr = xhr.clone();
        Closure::<dyn FnMut()>::new(move || {
            state.uploading.set(None);
            let body = xhr.response_text().ok().flatten().unwrap_or_default();
            let status = xhr.status().unwrap_or(0);
            if (200..300).contains(&status) {
                match serde_json::from_str::<Uploaded>(&body) {
                    Ok(uploaded) => {
                        state.attached.set(Some(uploaded));
                        state.focus_composer();
                    }
                    Err(_) => state
                        .notice
                        .set(Some("The upload's answer was unreadable.".into())),
                }
            } else {
                let reason = serde_json::from_str::<Refused>(&body)
                    .map(|r| r.error)
                    .unwrap_or_else(|_| format!("The file could not be sent (error {status})."));
                state.notice.set(Some(reason));
            }
        })
    };
    xhr.set_onloadend(Some(done.as_ref().unchecked_ref()));
    done.forget();
    if xhr.send_with_opt_blob(Some(&file)).is_err() {
        state.uploading.set(None);
        state.notice.set(Some("The file could not be sent.".into()));
    }
}
