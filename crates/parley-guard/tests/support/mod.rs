pub mod quality;
