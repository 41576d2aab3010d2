using System;

namespace aspnetapp.Models
{
    public class ErrorViewModel
