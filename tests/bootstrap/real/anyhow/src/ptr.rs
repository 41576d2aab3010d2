use alloc::boxed::Box;
use core::marker::PhantomData;
use core::ptr::NonNull;

