//! The page, embedded in the binary (no build step, no network). Files live in
//! `web/assets/`; [`FILES`] names the ones served under `/assets/`, and `/` serves
//! `index.html`, whose URLs are all relative. `vendor/` holds uPlot (MIT, its licence beside it).

/// One embedded file.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    /// Path under `/assets/`.
    pub path: &'static str,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its bytes.
    pub bytes: &'static [u8],
}

/// Files served under `/assets/`.
pub const FILES: &[Asset] = &[
    Asset {
        path: "app.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("assets/app.js"),
    },
    Asset {
        path: "app.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("assets/app.css"),
    },
    Asset {
        path: "vendor/uPlot.iife.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("assets/vendor/uPlot.iife.min.js"),
    },
    Asset {
        path: "vendor/uPlot.min.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("assets/vendor/uPlot.min.css"),
    },
    Asset {
        path: "vendor/uPlot.LICENSE",
        content_type: "text/plain; charset=utf-8",
        bytes: include_bytes!("assets/vendor/uPlot.LICENSE"),
    },
];

/// The page served at `/`.
pub const INDEX: &str = include_str!("assets/index.html");

/// The embedded file at `path`.
pub fn find(path: &str) -> Option<&'static Asset> {
    FILES.iter().find(|asset| asset.path == path)
}

/// Bytes of `/` and every asset (the page weight).
pub fn page_weight() -> usize {
    INDEX.len() + FILES.iter().map(|a| a.bytes.len()).sum::<usize>()
}
