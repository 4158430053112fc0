//! A small argument parser: `--flag`, `--key value`, positionals. No dependency needed.

use std::collections::BTreeMap;

#[derive(Debug, Default)]
pub struct Args {
    pub positional: Vec<String>,
    pub options: BTreeMap<String, String>,
    pub flags: Vec<String>,
}

/// Options that take a value.
const VALUED: &[&str] =
    &["--visit-type", "--chart", "--answers", "--now", "--session", "--context", "--lang", "--reason", "--dir", "--rules", "--port", "--root", "--charts", "--emit", "--questionnaire", "--value-sets", "--pkg"];

impl Args {
    pub fn parse(raw: &[String]) -> Result<Args, String> {
        let mut a = Args::default();
        let mut it = raw.iter();
        while let Some(arg) = it.next() {
            if let Some((k, v)) = arg.split_once('=').filter(|(k, _)| k.starts_with("--")) {
                a.options.insert(k.to_owned(), v.to_owned());
            } else if VALUED.contains(&arg.as_str()) {
                let v = it.next().ok_or_else(|| format!("{arg} needs a value"))?;
                a.options.insert(arg.clone(), v.clone());
            } else if arg.starts_with("--") {
                a.flags.push(arg.clone());
            } else {
                a.positional.push(arg.clone());
            }
        }
        Ok(a)
    }

    pub fn opt(&self, k: &str) -> Option<&str> {
        self.options.get(k).map(String::as_str)
    }

    pub fn flag(&self, k: &str) -> bool {
        self.flags.iter().any(|f| f == k)
    }

    pub fn require(&self, k: &str) -> Result<&str, String> {
        self.opt(k).ok_or_else(|| format!("{k} is required"))
    }
}
