using System;
using Microsoft.AspNetCore;
