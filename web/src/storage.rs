//! Where autosave goes. By default the browser's localStorage; a host can pass any object with
//! `getItem(key)`, `setItem(key, value)` and `removeItem(key)` (e.g. to encrypt, or to keep
//! answers in memory only on a shared kiosk). Failures (private mode, quota) never stop the
//! form: the patient keeps answering and the form says it could not save.

use std::cell::RefCell;
use std::collections::BTreeMap;

use wasm_bindgen::{JsCast, JsValue};

pub trait Storage {
    fn get(&self, key: &str) -> Option<String>;
    fn set(&self, key: &str, value: &str) -> Result<(), String>;
    fn remove(&self, key: &str);
}

/// `window.localStorage`.
pub struct Local;

fn local() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

impl Storage for Local {
    fn get(&self, key: &str) -> Option<String> {
        local()?.get_item(key).ok()?
    }
    fn set(&self, key: &str, value: &str) -> Result<(), String> {
        let s = local().ok_or("localStorage is not available")?;
        s.set_item(key, value).map_err(|e| e.as_string().unwrap_or_else(|| "localStorage refused the write".into()))
    }
    fn remove(&self, key: &str) {
        if let Some(s) = local() {
            let _ = s.remove_item(key);
        }
    }
}

/// Nothing kept beyond this page (the host asked for no persistence).
#[derive(Default)]
pub struct Memory(RefCell<BTreeMap<String, String>>);

impl Storage for Memory {
    fn get(&self, key: &str) -> Option<String> {
        self.0.borrow().get(key).cloned()
    }
    fn set(&self, key: &str, value: &str) -> Result<(), String> {
        self.0.borrow_mut().insert(key.to_owned(), value.to_owned());
        Ok(())
    }
    fn remove(&self, key: &str) {
        self.0.borrow_mut().remove(key);
    }
}

/// A host object with the localStorage method names.
pub struct Host(pub JsValue);

impl Host {
    fn call(&self, method: &str, args: &[JsValue]) -> Result<JsValue, String> {
        let f = js_sys::Reflect::get(&self.0, &method.into())
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
            .ok_or_else(|| format!("storage.{method} is not a function"))?;
        let arr: js_sys::Array = args.iter().collect();
        f.apply(&self.0, &arr).map_err(|e| e.as_string().unwrap_or_else(|| format!("storage.{method} threw")))
    }
}

impl Storage for Host {
    fn get(&self, key: &str) -> Option<String> {
        self.call("getItem", &[key.into()]).ok()?.as_string()
    }
    fn set(&self, key: &str, value: &str) -> Result<(), String> {
        self.call("setItem", &[key.into(), value.into()]).map(|_| ())
    }
    fn remove(&self, key: &str) {
        let _ = self.call("removeItem", &[key.into()]);
    }
}
