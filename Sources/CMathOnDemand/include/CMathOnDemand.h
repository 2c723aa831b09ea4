// The rest of this target only defines libm's own functions for the release
// link (mathondemand.c says why); this one is declared for the unit tests.

/// ceil(3), computed here: the one libm function that every start calls.
double mqttctl_ceil(double x);
