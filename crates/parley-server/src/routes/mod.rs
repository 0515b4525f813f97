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

use parley_store::PageRequest;
use serde::Deserialize;

/// `?limit=&cursor=` on every list.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Items per page: default 50, at most 200.
    pub limit: Option<u32>,
    /// `next_cursor` from the previous page.
    pub cursor: Option<String>,
}

impl ListQuery {
    pub fn page(&self) -> PageRequest {
        PageRequest {
            limit: self.limit,
            cursor: self.cursor.clone(),
        }
    }
}
