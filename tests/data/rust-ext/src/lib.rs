//! Fibonacci numbers, exported with the C ABI for ctypes.

#[no_mangle]
pub extern "C" fn rustfib_fib(n: u64) -> u64 {
    let (mut a, mut b) = (0u64, 1u64);
    for _ in 0..n {
        let next = a.wrapping_add(b);
        a = b;
        b = next;
    }
    a
}
