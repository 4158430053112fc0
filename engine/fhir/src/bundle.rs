//! Bundle: a chart arrives as one (searchset, collection, transaction); a write-back leaves as one.

use crate::datatypes::{Identifier, Meta};
use crate::fhir_element;
use crate::json::Json;

fhir_element! {
    /// A container of resources. Entries keep their resources as JSON; [`crate::AnyResource`] types them.
    pub struct Bundle: resource "Bundle" {
        id: opt String = "id",
        meta: opt Meta = "meta",
        identifier: opt Identifier = "identifier",
        type_: opt String = "type",
        timestamp: opt String = "timestamp",
        total: opt i64 = "total",
        link: vec Json = "link",
        entry: vec BundleEntry = "entry",
    }
}

fhir_element! {
    pub struct BundleEntry {
        full_url: opt String = "fullUrl",
        resource: opt Json = "resource",
        search: opt Json = "search",
        request: opt BundleRequest = "request",
        response: opt Json = "response",
    }
}

fhir_element! {
    /// How a transaction entry is applied: method, URL and conditions.
    pub struct BundleRequest {
        method: opt String = "method",
        url: opt String = "url",
        if_none_match: opt String = "ifNoneMatch",
        if_modified_since: opt String = "ifModifiedSince",
        if_match: opt String = "ifMatch",
        if_none_exist: opt String = "ifNoneExist",
    }
}
