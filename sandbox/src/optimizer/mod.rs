//! STUB — owned by the optimizer/scanner helper; replaced wholesale.
