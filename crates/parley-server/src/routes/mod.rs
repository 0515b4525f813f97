//! The API routes, one module per resource (and the widget's pages). Each handler's doc
//! line names its route.

pub mod ai;
pub mod bots;
pub mod conversations;
pub mod datasets;
pub mod flows;
pub mod guard;
pub mod keys;
pub mod keywords;
pub mod live;
pub mod openai;
pub mod sessions;
pub mod system;
pub mod teams;
pub mod transfers;
pub mod widget;

use parley_store::{PageRequest, MAX_PAGE};
use serde::{Deserialize, Deserializer};

/// `?limit=&cursor=` on every list.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Items per page: default 50, from 1 to 200 (422 outside).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    pub limit: Option<PageLimit>,
    /// `next_cursor` from the previous page.
    pub cursor: Option<String>,
}

impl ListQuery {
    pub fn page(&self) -> PageRequest {
        PageRequest {
            limit: self.limit.map(PageLimit::get),
            cursor: self.cursor.clone(),
        }
    }
}

/// A page size from 1 to [`MAX_PAGE`]. Out of range is refused (422 through `ApiQuery`),
/// not clamped, so a client never gets a page of a size it did not ask for.
#[derive(Debug, Clone, Copy)]
pub struct PageLimit(u32);

impl PageLimit {
    pub fn get(self) -> u32 {
        self.0
    }
}

impl<'de> Deserialize<'de> for PageLimit {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = i64::deserialize(d)?;
        match u32::try_from(n) {
            Ok(n) if (1..=MAX_PAGE).contains(&n) => Ok(PageLimit(n)),
            _ => Err(serde::de::Error::invalid_value(
                serde::de::Unexpected::Signed(n),
                &"a page size from 1 to 200",
            )),
        }
    }
}

/// A page of a list, as the OpenAPI document shows it (`parley_store::Page` is what is
/// sent; the store does not depend on utoipa).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Give it as `?cursor=` for the next page; `null` on the last one.
    pub next_cursor: Option<String>,
}

/// What a `DELETE` answers.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct Deleted {
    pub id: uuid::Uuid,
    pub deleted: bool,
}

/// `{"messages": [...]}`: what `receive` and `complete` answer.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct Messages {
    pub messages: Vec<parley_core::Message>,
}

/// `{"message": ...}`: what `send` answers.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct SentMessage {
    pub message: parley_core::Message,
}

/// `{"items": [...]}`: what a dataset search answers, best first.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct SearchHits {
    pub items: Vec<parley_core::SearchHit>,
}
