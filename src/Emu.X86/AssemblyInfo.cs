using System.Runtime.CompilerServices;

// The interpreter's hot methods keep stack temporaries; zeroing them on every call is wasted work.
[module: SkipLocalsInit]
