using System;
using Microsoft.AspNetCore.Builder;
